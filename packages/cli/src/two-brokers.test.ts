/**
 * Two broker processes over one PostgreSQL database (issue 18 §5, docs/operations.md §2), every party a
 * real process: a chain bought at broker 1 is spent at a vendor registered through broker 1 and at one
 * using broker 2 (hand-overs both ways), a chain bought at broker 2 is refunded there while a vendor of
 * broker 1 holds it, every coin is redeemed once and paid out once, and settlement, which both processes
 * schedule every 2 s, runs once per period. A key rotated at one broker signs the next chain bought at
 * the other.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createBankClient } from '@netpay/bank/client';
import { createTestPostgresDatabase, type TestPostgresDatabase } from '@netpay/db/testing';
import { encodeHeader, fromBase64url, HEADERS, randomBytes, toBase64url } from '@netpay/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientChain } from '../../broker/test/world.ts';
import { ENV, firstLine, processScope } from './testing.ts';

const ADMIN = 'admin-token-for-two-brokers';
const SETTLE_SECONDS = 2;

describe('two broker processes over one PostgreSQL', () => {
  const { dir, start, bank, vendor } = processScope('netpay-two-brokers-');
  let pg: TestPostgresDatabase;
  let bankUrl = '';
  const brokers: string[] = [];
  const vendors: Record<string, { url: string; account: { id: string; token: string } }> = {};

  const call = async (broker: string, method: string, path: string, body?: unknown, token?: string) => {
    const res = await fetch(broker + path, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined
          ? { 'content-type': 'application/json', 'idempotency-key': toBase64url(randomBytes(12)) }
          : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: await res.json().catch(() => undefined) };
  };
  const admin = async (broker: string, path: string, method = 'GET') =>
    (await call(broker, method, path, method === 'POST' ? {} : undefined, ADMIN)).body;

  beforeAll(async () => {
    pg = await createTestPostgresDatabase();
    bankUrl = (await bank()).url;
    const own = await createBankClient(bankUrl).createAccount({ name: 'broker' });
    const config = join(dir, 'broker.json');
    writeFileSync(
      config,
      JSON.stringify({
        adminToken: ADMIN,
        feeBasisPoints: 0,
        leaseSeconds: 2,
        handoverTimeoutMs: 1_000,
        bank: { account: own.id, token: own.token },
        schedule: { settlementSeconds: SETTLE_SECONDS },
      }),
    );
    // Both at once over one empty database: one schema, one signing key.
    const runs = [1, 2].map(() =>
      start(['broker', 'start', '--port', '0', '--json', '--dev', '--bank', bankUrl, '--config', config], {
        ...ENV,
        DATABASE_URL: pg.url,
      }),
    );
    for (const r of runs) brokers.push(String(JSON.parse(await firstLine(r, 90_000)).url));
    mkdirSync(join(dir, 'public'));
    writeFileSync(join(dir, 'public', 'song.mp3'), 'la la la');
    for (const [id, broker] of [
      ['shop-1', brokers[0]!],
      ['shop-2', brokers[1]!],
    ] as const) {
      const account = await createBankClient(bankUrl).createAccount({ name: id });
      const v = await vendor({
        vendorId: id,
        prices: { '*.mp3': '10' },
        folder: join(dir, 'public'),
        brokerUrl: broker,
        extra: ['--bank-account', account.id, '--redeem-every', '1'],
      });
      vendors[id] = { url: v.url, account };
    }
  });
  afterAll(async () => {
    await pg?.drop();
  });

  /** A customer registered at broker `at`, with 1000.00 loaded. */
  async function customer(at: string) {
    const login = `two-${toBase64url(randomBytes(4)).toLowerCase()}@example.com`;
    const reg = await call(at, 'POST', '/customers', {
      login,
      password: 'correct horse battery',
      deviceName: 't',
    });
    expect(reg.status, JSON.stringify(reg.body)).toBe(201);
    const outbox = await call(at, 'GET', `/dev/outbox?recipient=${encodeURIComponent(login)}`);
    const code = /(\d{6})/.exec(outbox.body.messages.at(-1).body)![1]!;
    const verified = await call(at, 'POST', `/devices/${reg.body.deviceId}/verify`, { code });
    const token = String(verified.body.session.token);
    const account = await createBankClient(bankUrl).createAccount({
      name: login,
      initialBalance: 10_000_000n,
    });
    const body = { amount: '1000000', bankAccount: account.id, bankToken: account.token };
    expect((await call(at, 'POST', '/me/load', body, token)).status).toBe(200);
    return token;
  }

  async function buy(at: string, token: string, n: number) {
    const chain = clientChain(n);
    const body = { chains: [{ coinValue: '10', n, chainId: chain.chainId, root: chain.root }] };
    const r = await call(at, 'POST', '/me/chains', body, token);
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const words = [fromBase64url(chain.root)!];
    for (let i = 1; i <= n; i++) words.push(chain.traversal.next()!.payword);
    return { chainId: chain.chainId, words, touchstone: r.body.chains[0].touchstone };
  }

  const pay = (shop: string, c: { chainId: string; words: Uint8Array[] }, i: number) =>
    fetch(`${vendors[shop]!.url}/song.mp3`, {
      headers: {
        [HEADERS.payment]: encodeHeader({
          v: 1,
          parts: [{ chainId: c.chainId, index: i, payword: toBase64url(c.words[i]!) }],
        }),
      },
    });

  it('spends a chain of broker 1 at vendors of both, refunds one of broker 2, redeems and settles once', async () => {
    const token = await customer(brokers[0]!);
    const c = await buy(brokers[0]!, token, 20);
    const path = ['shop-1', 'shop-1', 'shop-2', 'shop-2', 'shop-1', 'shop-2']; // hand-overs across brokers
    for (const [k, shop] of path.entries()) {
      const r = await pay(shop, c, k + 1);
      expect(r.status, await r.clone().text()).toBe(200);
      expect(r.headers.get(HEADERS.receipt)).toBeTruthy();
    }
    // A payword spent is refused at either vendor.
    expect((await pay('shop-1', c, 6)).status).toBe(409);
    expect((await pay('shop-2', c, 3)).status).toBe(409);
    // The same customer, through broker 2: a chain bought there, spent at shop-1, refunded there.
    const d = await buy(brokers[1]!, token, 10);
    for (let i = 1; i <= 3; i++) expect((await pay('shop-1', d, i)).status).toBe(200);
    // shop-1 holds it with fresh coins: broker 2 asks it for the chain (a hand-over to the broker).
    const refund = await call(
      brokers[1]!,
      'POST',
      `/me/chains/${d.chainId}/refund`,
      { spentIndex: 3 },
      token,
    );
    expect(refund.status, JSON.stringify(refund.body)).toBe(200);
    expect(refund.body).toMatchObject({ refundedFrom: 3, coins: 7 });
    await expect
      .poll(
        async () => (await call(brokers[0]!, 'GET', `/me/chains/${d.chainId}`, undefined, token)).body.status,
        { timeout: 20_000 },
      )
      .toBe('refunded');
    expect((await pay('shop-1', d, 4)).status).toBe(402);
    // Every coin is redeemed once (shop-1: 3 + 3 of c and d, shop-2: 3 of c) and paid out once.
    const want: Record<string, bigint> = { 'shop-1': 60n, 'shop-2': 30n };
    for (const [shop, amount] of Object.entries(want)) {
      const v = vendors[shop]!;
      await expect
        .poll(async () => (await fetch(`${v.url}/netpay/statement`)).json(), { timeout: 30_000 })
        .toMatchObject({ accepted: String(amount), redeemed: String(amount), refusedClaims: 0 });
      await expect
        .poll(
          async () => (await createBankClient(bankUrl).getAccount(v.account.token, v.account.id)).balance,
          {
            timeout: 30_000,
          },
        )
        .toBe(amount);
    }
    for (const chainId of [c.chainId, d.chainId])
      expect(await admin(brokers[1]!, `/admin/chains/${chainId}`)).toMatchObject({
        balanced: true,
        chargedBackCoins: 0,
      });
    expect((await admin(brokers[0]!, '/admin/evidence')).evidence).toEqual([]);
    for (const b of brokers) expect(await admin(b, '/admin/audit')).toMatchObject({ ok: true });
    // Settlement: both processes tick every 2 s, but no two runs start within one period.
    const { runs } = await admin(brokers[0]!, '/admin/settlement/runs');
    const starts = runs
      .map((r: { startedAt: string }) => Date.parse(r.startedAt))
      .sort((a: number, b: number) => a - b);
    expect(starts.length).toBeGreaterThan(1);
    for (let k = 1; k < starts.length; k++)
      expect(starts[k] - starts[k - 1]).toBeGreaterThanOrEqual(SETTLE_SECONDS * 500);
  });

  it('signs at one broker with the key rotated at the other', async () => {
    const rotated = await admin(brokers[1]!, '/admin/keys/rotate', 'POST');
    const token = await customer(brokers[0]!);
    const c = await buy(brokers[0]!, token, 3);
    expect(c.touchstone.keyId).toBe(rotated.keyId);
    // Vendors learn the new key from their broker and accept the chain at either.
    expect((await pay('shop-2', c, 1)).status).toBe(200);
    expect((await pay('shop-1', c, 2)).status).toBe(200);
  });
});
