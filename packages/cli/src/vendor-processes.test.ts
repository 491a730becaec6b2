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

  const call = async (method: string, path: string, body?: unknown, as = token) => {
    const res = await fetch(brokerUrl + path, {
      method,
      headers: {
        ...(as ? { authorization: `Bearer ${as}` } : {}),
        ...(body !== undefined
          ? { 'content-type': 'application/json', 'idempotency-key': toBase64url(randomBytes(12)) }
          : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: await res.json().catch(() => undefined) };
  };

  /** A customer with money at the broker; returns its session token. */
  async function newCustomer(name: string) {
    const login = `${name}-${toBase64url(randomBytes(4)).toLowerCase()}@example.com`;
    const reg = await call(
      'POST',
      '/customers',
      { login, password: 'correct horse battery', deviceName: 'test' },
      '',
    );
    expect(reg.status, JSON.stringify(reg.body)).toBe(201);
    const outbox = await call('GET', `/dev/outbox?recipient=${encodeURIComponent(login)}`, undefined, '');
    const code = /(\d{6})/.exec(outbox.body.messages.at(-1).body)![1]!;
    const verified = await call('POST', `/devices/${reg.body.deviceId}/verify`, { code }, '');
    const session = String(verified.body.session.token);
    const account = await createBankClient(bankUrl).createAccount({ name, initialBalance: 1_000_000n });
    const load = await call(
      'POST',
      '/me/load',
      { amount: '100000', bankAccount: account.id, bankToken: account.token },
      session,
    );
    expect(load.status, JSON.stringify(load.body)).toBe(200);
    return session;
  }

  beforeAll(async () => {
    bankUrl = (await bank()).url;
    // Short leases, so a holder that does not answer is waited out in seconds.
    writeFileSync(
      join(dir, 'broker.json'),
      JSON.stringify({ adminToken: ADMIN, feeBasisPoints: 0, leaseSeconds: 2, handoverTimeoutMs: 500 }),
    );
    brokerUrl = (await broker(bankUrl, ['--config', join(dir, 'broker.json')])).url;
    token = await newCustomer('walker');
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

  async function buyChain(n: number, as = token) {
    const chain = clientChain(n);
    const r = await call(
      'POST',
      '/me/chains',
      { chains: [{ coinValue: '10', n, chainId: chain.chainId, root: chain.root }] },
      as,
    );
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

  /** Pays coin i at a vendor whose holder does not answer: `chain_busy` until the lease is over, then 200. */
  async function takeOverAt(url: string, c: { chainId: string; words: Uint8Array[] }, i: number) {
    await expect
      .poll(
        async () => {
          const r = await pay(url, c, i);
          if (r.status !== 200) expect((await r.json()).code).toBe('chain_busy');
          return r.status;
        },
        { timeout: 10_000, interval: 300 },
      )
      .toBe(200);
  }

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
    expect(replayOld.status).toBe(409);
    expect(await replayOld.json()).toMatchObject({ code: 'index_not_advancing' });
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

  it('keeps every coin it gave a receipt for when killed under load, and redeems each once', async () => {
    const v = await vendorProcess('kill-load', ['--redeem-every', '0']);
    const chains = await Promise.all(Array.from({ length: 8 }, () => buyChain(400)));
    // Eight customers' wallets pay one coin after another until the vendor dies under them.
    const receipted = chains.map(() => 0);
    let dead = false;
    const payers = chains.map(async (c, k) => {
      for (let i = 1; i <= 400 && !dead; i++) {
        const r = await pay(v.url, c, i).catch(() => undefined);
        if (!r) return;
        await r.arrayBuffer();
        if (r.status !== 200) return;
        expect(r.headers.get(HEADERS.receipt)).toBeTruthy();
        receipted[k] = i;
      }
    });
    await expect.poll(() => receipted.reduce((a, b) => a + b, 0), { timeout: 20_000 }).toBeGreaterThan(300);
    v.run.child.kill('SIGKILL');
    await v.run.exit;
    dead = true;
    await Promise.all(payers);
    // Back from the same folder: it recovers its journal, then redeems everything it accepted.
    const back = await vendorProcess('kill-load', ['--redeem-every', '0']);
    for (const [k, c] of chains.entries()) {
      // A coin receipted before the kill is not accepted again: its payword is spent here.
      const again = await pay(back.url, c, receipted[k]!);
      expect([200, 409]).toContain(again.status);
      if (again.status === 200) expect(again.headers.get(HEADERS.receipt)).toBeTruthy(); // the same answer, replayed
    }
    await stop(back.run);
    const r = start([
      'vendor',
      'redeem',
      '--json',
      '--prices',
      back.prices,
      '--broker',
      brokerUrl,
      '--data',
      join(dir, 'kill-load'),
    ]);
    const out = JSON.parse(await firstLine(r));
    await r.exit;
    expect(out.redemption.rejected, JSON.stringify(out)).toBe(0);
    for (const [k, c] of chains.entries()) {
      const account = await call('GET', `/admin/chains/${c.chainId}`, undefined, ADMIN);
      expect(account.body.balanced, JSON.stringify(account.body)).toBe(true);
      // Every receipted coin is credited to the vendor (a coin in flight at the kill may be too), none twice.
      expect(BigInt(account.body.credited)).toBeGreaterThanOrEqual(BigInt(receipted[k]!) * 10n);
      expect(account.body.chargedBackCoins).toBe(0);
    }
    const audit = await fetch(`${brokerUrl}/admin/audit`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(await audit.json()).toMatchObject({ ok: true });
  });

  it('takes a chain over through the broker when its holder is killed mid-run', async () => {
    const a = await vendorProcess('kill-a', ['--redeem-every', '1']);
    const b = await vendorProcess('kill-b');
    const c = await buyChain(20);
    for (let i = 1; i <= 4; i++) expect((await pay(a.url, c, i)).status).toBe(200);
    // Wait for A's backup of index 4 to reach the broker, then kill A without a chance to hand anything over.
    await expect
      .poll(async () => (await call('GET', `/me/chains/${c.chainId}`)).body.knownSpentIndex, {
        timeout: 10_000,
      })
      .toBe(4);
    a.run.child.kill('SIGKILL');
    await a.run.exit;
    // While A's lease runs (it may be slow, not dead) B is told to wait; then it takes the chain over.
    await takeOverAt(b.url, c, 5);
    expect((await pay(b.url, c, 6)).status).toBe(200);
    // An old payword is still refused at the new holder.
    expect((await pay(b.url, c, 4)).status).toBe(409); // index_not_advancing
    // A comes back: its first backup round learns the chain was taken over and stops accepting it, so
    // payword 5 (spent at B) is not accepted a second time at A.
    const back = await vendorProcess('kill-a', ['--redeem-every', '1']);
    await new Promise((r) => setTimeout(r, 2_500));
    const doubleSpend = await pay(back.url, c, 5);
    expect(doubleSpend.status, await doubleSpend.clone().text()).toBe(409);
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

  const refund = (chainId: string, spentIndex: number, as = token) =>
    call('POST', `/me/chains/${chainId}/refund`, { spentIndex }, as);
  const admin = async (path: string) =>
    (await fetch(brokerUrl + path, { headers: { authorization: `Bearer ${ADMIN}` } })).json();
  /** I1 for a running vendor: everything it receipted is credited once it has redeemed. */
  const creditedAll = (url: string, accepted: string) =>
    expect
      .poll(async () => (await fetch(`${url}/netpay/statement`)).json(), { timeout: 20_000 })
      .toMatchObject({ accepted, redeemed: accepted, missing: '0', refusedClaims: 0 });
  /** I2, I3 for the chain and the audit; I4 for an honest customer's ledger entries. */
  async function balanced(chainId: string, honest?: string) {
    expect(await admin(`/admin/chains/${chainId}`)).toMatchObject({ balanced: true });
    expect(await admin('/admin/audit')).toMatchObject({ ok: true });
    if (honest) {
      const st = await call('GET', '/me/statement', undefined, honest);
      expect(st.body.entries.filter((e: { kind: string }) => e.kind === 'charge_back')).toEqual([]);
    }
  }

  it('refunds at once while the holder has fresh unreported coins; the holder then refuses the chain', async () => {
    const a = await vendorProcess('fresh-a', ['--redeem-every', '1']);
    const c = await buyChain(20);
    for (let i = 1; i <= 3; i++) expect((await pay(a.url, c, i)).status).toBe(200);
    const r = await refund(c.chainId, 3);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ refundedFrom: 3, coins: 17 });
    const after = await pay(a.url, c, 4);
    expect(after.status).toBe(402);
    expect((await after.json()).code).toBe('chain_refunded');
    expect(after.headers.get(HEADERS.terms)).toBeTruthy();
    await creditedAll(a.url, '30');
    await balanced(c.chainId, token);
    await stop(a.run);
  });

  it('refunds when the holder is down once its lease is over; the holder, back, is paid what it accepted', async () => {
    const a = await vendorProcess('down-a', ['--redeem-every', '1']);
    const c = await buyChain(20);
    for (let i = 1; i <= 3; i++) expect((await pay(a.url, c, i)).status).toBe(200);
    a.run.child.kill('SIGKILL');
    await a.run.exit;
    const pending = await refund(c.chainId, 3);
    expect(pending.status).toBe(202);
    expect(pending.body.retryAfter).toBeLessThanOrEqual(2);
    await expect
      .poll(async () => (await refund(c.chainId, 3)).body.code, { timeout: 10_000 })
      .toBe('chain_refunded');
    const chain = await call('GET', `/me/chains/${c.chainId}`);
    expect(chain.body).toMatchObject({ status: 'refunded', holder: null });
    const back = await vendorProcess('down-a', ['--redeem-every', '1']);
    await creditedAll(back.url, '30');
    await balanced(c.chainId, token);
    await stop(back.run);
  });

  it('a holder slow but alive stops at its lease; a wallet that understated its spending is charged back', async () => {
    const liar = await newCustomer('liar');
    // No backups: only the holder knows how far the chain is spent.
    const a = await vendorProcess('slow-a', ['--redeem-every', '0']);
    const c = await buyChain(20, liar);
    for (let i = 1; i <= 3; i++) expect((await pay(a.url, c, i)).status).toBe(200);
    a.run.child.kill('SIGSTOP'); // frozen: the broker's hand-over requests get no answer in time
    const pending = await refund(c.chainId, 1, liar); // it spent 3
    expect(pending.status).toBe(202);
    // Once the lease is over the refund completes without the holder, from the stated index 1.
    await expect
      .poll(async () => (await refund(c.chainId, 1, liar)).body.code, { timeout: 10_000 })
      .toBe('chain_refunded');
    a.run.child.kill('SIGCONT');
    // Awake again, its lease has run out and is not renewed: it refuses the chain.
    const late = await pay(a.url, c, 4);
    expect(late.status).toBe(402);
    expect((await late.json()).code).toBe('chain_refunded');
    await stop(a.run);
    const redeemed = start([
      'vendor',
      'redeem',
      '--json',
      '--prices',
      a.prices,
      '--broker',
      brokerUrl,
      '--data',
      join(dir, a.id),
    ]);
    const out = JSON.parse(await firstLine(redeemed));
    await redeemed.exit;
    // I1: the holder is credited all three coins it receipted.
    expect(out.redemption).toMatchObject({ rejected: 0, amount: '30' });
    // Refunded from 1: 19 coins back; coins 2–3, redeemed by the holder too, are charged back.
    const st = await call('GET', '/me/statement', undefined, liar);
    const kinds = st.body.entries.map((e: { kind: string; amount: string }) => `${e.kind}:${e.amount}`);
    expect(kinds, JSON.stringify(st.body.entries)).toContain('refund:190');
    expect(kinds, JSON.stringify(st.body.entries)).toContain('charge_back:-20');
    expect(await admin(`/admin/chains/${c.chainId}`)).toMatchObject({ chargedBackCoins: 2, balanced: true });
    await balanced(c.chainId, token);
  });

  it('takes a chain over from a partitioned holder only after its lease, and pays both holders', async () => {
    const a = await vendorProcess('part-a', ['--redeem-every', '1']);
    const b = await vendorProcess('part-b', ['--redeem-every', '1']);
    const c = await buyChain(20);
    for (let i = 1; i <= 3; i++) expect((await pay(a.url, c, i)).status).toBe(200);
    await expect
      .poll(async () => (await call('GET', `/me/chains/${c.chainId}`)).body.knownSpentIndex, {
        timeout: 10_000,
      })
      .toBe(3);
    a.run.child.kill('SIGSTOP'); // partitioned away
    await takeOverAt(b.url, c, 4);
    a.run.child.kill('SIGCONT');
    // A, back, no longer accepts the chain (its lease ran out; the directory names B).
    const atA = await pay(a.url, c, 5);
    expect(atA.status, await atA.clone().text()).toBe(200); // handed over from B, the honest way
    await creditedAll(a.url, '40');
    await creditedAll(b.url, '10');
    await balanced(c.chainId, token);
    await stop(a.run);
    await stop(b.run);
  });
});
