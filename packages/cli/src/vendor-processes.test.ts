/**
 * Hand-over and multi-instance scenarios with every party a real process: the stand-in bank, the broker
 * and each vendor are `netpay … start` processes on loopback; the customer is this test, paying with coins
 * it bought over the broker's HTTP API.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createBankClient } from '@netpay/bank/client';
import { createTestPostgresDatabase } from '@netpay/db/testing';
import { encodeHeader, fromBase64url, HEADERS, randomBytes, toBase64url } from '@netpay/protocol';
import { beforeAll, describe, expect, it } from 'vitest';
import { clientChain } from '../../broker/test/world.ts';
import { ENV, firstLine, processScope, type Run } from './testing.ts';

describe('vendors as real processes: hand-over, take-over, two instances', () => {
  const { dir, start, bank, broker, vendor } = processScope('netpay-vendor-proc-');
  let brokerUrl = '';
  let bankUrl = '';
  let token = '';
  const ADMIN = 'admin-token-for-tests';

  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(brokerUrl + path, {
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

  beforeAll(async () => {
    bankUrl = (await bank()).url;
    writeFileSync(join(dir, 'broker.json'), JSON.stringify({ adminToken: ADMIN, feeBasisPoints: 0 }));
    brokerUrl = (await broker(bankUrl, ['--config', join(dir, 'broker.json')])).url;
    // A customer with money at the broker.
    const login = `walker-${toBase64url(randomBytes(4)).toLowerCase()}@example.com`;
    const reg = await call('POST', '/customers', {
      login,
      password: 'correct horse battery',
      deviceName: 'test',
    });
    expect(reg.status, JSON.stringify(reg.body)).toBe(201);
    const outbox = await call('GET', `/dev/outbox?recipient=${encodeURIComponent(login)}`);
    const code = /(\d{6})/.exec(outbox.body.messages.at(-1).body)![1]!;
    const verified = await call('POST', `/devices/${reg.body.deviceId}/verify`, { code });
    token = verified.body.session.token;
    const account = await createBankClient(bankUrl).createAccount({
      name: 'walker',
      initialBalance: 1_000_000n,
    });
    const load = await call('POST', '/me/load', {
      amount: '100000',
      bankAccount: account.id,
      bankToken: account.token,
    });
    expect(load.status, JSON.stringify(load.body)).toBe(200);
    mkdirSync(join(dir, 'public'));
    writeFileSync(join(dir, 'public', 'song.mp3'), 'la la la');
  });

  /** A vendor process selling song.mp3 at 10 (one coin of 10). */
  const vendorProcess = async (id: string, extra: string[] = [], env: NodeJS.ProcessEnv = ENV) => {
    const v = await vendor({
      vendorId: id,
      prices: { '*.mp3': '10' },
      folder: join(dir, 'public'),
      brokerUrl,
      extra,
      env,
    });
    return { run: v.run, url: v.url, id, prices: v.pricesFile };
  };

  async function buyChain(n: number) {
    const chain = clientChain(n);
    const r = await call('POST', '/me/chains', {
      chains: [{ coinValue: '10', n, chainId: chain.chainId, root: chain.root }],
    });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const words = [fromBase64url(chain.root)!];
    for (let i = 1; i <= n; i++) words.push(chain.traversal.next()!.payword);
    return { chainId: chain.chainId, words };
  }

  const pay = (url: string, c: { chainId: string; words: Uint8Array[] }, i: number) =>
    fetch(`${url}/song.mp3`, {
      headers: {
        [HEADERS.payment]: encodeHeader({
          v: 1,
          parts: [{ chainId: c.chainId, index: i, payword: toBase64url(c.words[i]!) }],
        }),
      },
    });

  const stop = async (r: Run) => {
    r.child.kill('SIGTERM');
    await r.exit;
  };

  it('moves a customer A → B → A with one chain, then refuses replayed paywords at either vendor', async () => {
    const a = await vendorProcess('proc-a');
    const b = await vendorProcess('proc-b');
    const c = await buyChain(20);
    expect((await pay(a.url, c, 1)).status).toBe(200);
    expect((await pay(a.url, c, 2)).status).toBe(200);
    expect((await pay(b.url, c, 3)).status).toBe(200); // hand-over A → B
    expect((await pay(b.url, c, 4)).status).toBe(200);
    expect((await pay(a.url, c, 5)).status).toBe(200); // hand-over B → A
    // Double spending: a payword already spent (at A, then handed to B) is refused at B, and at A again.
    const replayAtB = await pay(b.url, c, 5);
    expect(replayAtB.status).toBe(409);
    const replayOld = await pay(a.url, c, 2);
    expect(replayOld.status).toBe(402);
    expect(await replayOld.json()).toMatchObject({ code: 'payment_invalid' });
    for (const v of [a, b]) await stop(v.run);
    // Each vendor redeems what it accepted while it held the chain: 4 + 1 coins at A, 2 at B... all 5 once.
    let credited = 0n;
    for (const v of [a, b]) {
      const prices = v.prices;
      const r = start([
        'vendor',
        'redeem',
        '--json',
        '--prices',
        prices,
        '--broker',
        brokerUrl,
        '--data',
        join(dir, v.id),
      ]);
      const out = JSON.parse(await firstLine(r));
      expect(out.redemption.rejected, JSON.stringify(out)).toBe(0);
      credited += BigInt(out.redemption.amount);
      await r.exit;
    }
    expect(credited).toBe(50n);
    const audit = await fetch(`${brokerUrl}/admin/audit`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(await audit.json()).toMatchObject({ ok: true });
  });

  it('lets exactly one of two vendors take the same coin paid to both at the same moment', async () => {
    const a = await vendorProcess('race-a');
    const b = await vendorProcess('race-b');
    for (let k = 0; k < 3; k++) {
      const c = await buyChain(5);
      const answers = await Promise.all([pay(a.url, c, 1), pay(b.url, c, 1)]);
      const statuses = answers.map((r) => r.status).sort();
      expect(
        statuses.filter((s) => s === 200),
        JSON.stringify(statuses),
      ).toHaveLength(1);
      for (const r of answers) {
        if (r.status !== 200) expect(['chain_not_held', 'payment_conflict']).toContain((await r.json()).code);
      }
    }
    for (const v of [a, b]) await stop(v.run);
  });

  it('takes a chain over through the broker when its holder is killed mid-run', async () => {
    const a = await vendorProcess('kill-a', ['--redeem-every', '1']);
    const b = await vendorProcess('kill-b');
    const c = await buyChain(20);
    for (let i = 1; i <= 4; i++) expect((await pay(a.url, c, i)).status).toBe(200);
    // Wait for A's backup of index 4 to reach the broker, then kill A without a chance to hand anything over.
    await new Promise((r) => setTimeout(r, 2_500));
    a.run.child.kill('SIGKILL');
    await a.run.exit;
    const next = await pay(b.url, c, 5);
    expect(next.status, await next.clone().text()).toBe(200);
    expect((await pay(b.url, c, 6)).status).toBe(200);
    // An old payword is still refused at the new holder.
    expect((await pay(b.url, c, 4)).status).toBe(402);
    // A comes back: its first backup round learns the chain was taken over and stops accepting it, so
    // payword 5 (spent at B) is not accepted a second time at A.
    const back = await vendorProcess('kill-a', ['--redeem-every', '1']);
    await new Promise((r) => setTimeout(r, 2_500));
    const doubleSpend = await pay(back.url, c, 5);
    expect(doubleSpend.status, await doubleSpend.clone().text()).toBe(402);
    expect((await pay(back.url, c, 7)).status).toBe(200); // handed over from B at 6
    await stop(back.run);
    await stop(b.run);
  });

  it('runs two instances of one vendor over one PostgreSQL with payments for the same chains racing', async () => {
    const pg = await createTestPostgresDatabase();
    try {
      const env = { ...ENV, DATABASE_URL: pg.url };
      const one = await vendorProcess('twin', [], env);
      const two = await vendorProcess('twin', [], env);
      const chains = await Promise.all([buyChain(30), buyChain(30)]);
      // The same payments sent to both instances at once, chain by chain, coin by coin.
      const receipts = new Map<string, string>();
      let conflicts = 0;
      for (let i = 1; i <= 12; i++) {
        const answers = await Promise.all(chains.flatMap((c) => [pay(one.url, c, i), pay(two.url, c, i)]));
        for (const r of answers) {
          if (r.status === 200) {
            const receipt = r.headers.get(HEADERS.receipt)!;
            const key = `${receipt}`;
            receipts.set(key, key);
          } else {
            expect(r.status).toBe(409);
            conflicts++;
          }
        }
      }
      // Each coin was accepted once: one distinct receipt per chain per coin, however many 200s.
      expect(receipts.size).toBe(2 * 12);
      const statement = await (await fetch(`${one.url}/netpay/statement`)).json();
      expect(statement).toMatchObject({ accepted: String(2 * 12 * 10) });
      expect(conflicts).toBeGreaterThanOrEqual(0);
      for (const v of [one, two]) await stop(v.run);
    } finally {
      await pg.drop();
    }
  });
});
