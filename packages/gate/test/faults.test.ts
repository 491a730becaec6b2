import { writeFileSync } from 'node:fs';
import { recoverPayments } from '@netpay/wallet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAULT_KINDS, type Fault, NO_FAULTS } from './fault-proxy.ts';
import {
  type Actor,
  DEFAULT_RATES,
  type FaultWorld,
  keepReceipts,
  newActor,
  OP_KINDS,
  runSeed,
  type SeedResult,
  startFaultWorld,
} from './faults.ts';
import { checkChains, checkI1 } from './invariants.ts';
import type { RunningVendor } from './vendor-world.ts';

/**
 * Network faults (issue 18 §2), a few fixed seeds: every link between the wallets, the vendors, the broker
 * and the bank drops, delays, duplicates, reorders and cuts requests and responses; every operation still
 * completes exactly once (faults.ts says what is checked). `npm run soak -- faults` runs many seeds.
 */
const SEEDS = [1, 2, 3];

/**
 * `npm run soak -- faults` (soak/faults.ts) runs this file with NETPAY_FAULT_SEEDS=N: seeds 1..N (a world
 * restarted every 25 seeds and after a violation), a violation reported rather than failing, and the
 * totals written as JSON to NETPAY_FAULT_REPORT. The worlds need vitest's PGlite template, so the soak runs them here.
 */
const SOAK_SEEDS = Number(process.env.NETPAY_FAULT_SEEDS ?? 0);
/** NETPAY_FAULT_SCALE multiplies every fault's rate (default 1: about one request in three meets one). */
const SCALE = Math.min(Number(process.env.NETPAY_FAULT_SCALE ?? 1), 2.5);
const soakRates = Object.fromEntries(
  Object.entries(DEFAULT_RATES).map(([k, v]) => [k, v * SCALE]),
) as typeof DEFAULT_RATES;

describe.skipIf(SOAK_SEEDS > 0)('network faults [pglite]', () => {
  let fw: FaultWorld;
  const lines: string[] = [];
  beforeAll(async () => {
    fw = await startFaultWorld('pglite', (l) => lines.push(l));
  });
  afterAll(async () => {
    await fw?.close();
  });

  /** A response lost: the party did the work, the client got a reset connection. */
  const RESET: Fault = { kind: 'drop', onResponse: true, r: 0 };
  /** A response lost behind a gateway, which answered 502 instead. */
  const GATEWAY_502: Fault = { kind: 'drop', onResponse: true, r: 0.9 };
  const post = (path: string) => (method: string, url: string) => method === 'POST' && url.includes(path);
  const bankBalance = async (a: Actor) =>
    (await fw.w.bankClient.getAccount(a.bank.token, a.bank.account)).balance;
  const brokerBalance = async (a: Actor) =>
    BigInt((await fw.w.call('GET', '/me', { token: a.wallet.sessionToken! })).body.balance);

  it('a load whose answer is lost five times debits the bank once and credits the customer once', async () => {
    fw.faults(0, NO_FAULTS);
    const a = await newActor(fw, 'five-drops');
    const bankBefore = await bankBalance(a);
    for (let i = 0; i < 5; i++) fw.links.broker.force(i % 2 ? GATEWAY_502 : RESET, post('/me/load'));
    const r = await a.wallet.load(2_000n, a.bank);
    expect(r.balance).toBe(2_000n);
    expect(await bankBalance(a)).toBe(bankBefore - 2_000n);
    expect(await brokerBalance(a)).toBe(2_000n);
  });

  it('a load sent again later under its key gets its first answer, not the balance now', async () => {
    fw.faults(0, NO_FAULTS);
    const a = await newActor(fw, 'replay');
    const b = await newActor(fw, 'replay-to');
    const first = await a.wallet.load(1_000n, a.bank, { key: 'load-replayed-0001' });
    await a.wallet.send(b.login, 300n);
    const body = { amount: '1000', bankAccount: a.bank.account, bankToken: a.bank.token };
    const again = await fw.w.call('POST', '/me/load', {
      token: a.wallet.sessionToken!,
      key: 'load-replayed-0001',
      body,
    });
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ movementId: first.movementId, amount: '1000', balance: '1000' });
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await brokerBalance(a)).toBe(700n);
  });

  it('a send whose answer is lost is sent again under its key and moves the money once', async () => {
    fw.faults(0, NO_FAULTS);
    const a = await newActor(fw, 'sender');
    const b = await newActor(fw, 'receiver');
    await a.wallet.load(1_000n, a.bank);
    fw.links.broker.force(RESET, post('/me/transfers'));
    fw.links.broker.force(GATEWAY_502, post('/me/transfers'));
    const r = await a.wallet.send(b.login, 250n);
    expect(r.balance).toBe(750n);
    expect(await brokerBalance(a)).toBe(750n);
    expect(await brokerBalance(b)).toBe(250n);
  });

  it('a payment whose answer a gateway replaced by 502 stays in flight and is settled by its receipt', async () => {
    fw.faults(0, NO_FAULTS);
    const a = await newActor(fw, 'gateway');
    await a.wallet.load(1_000n, a.bank);
    await a.wallet.buy([{ coinValue: 10n, n: 50 }]);
    const item = `${fw.vendors[0]!.advertised}/item`;
    expect((await a.pay(item)).netpay?.paid).toBe(50n);
    // The vendor takes the second payment; the gateway in front of it loses the answer, receipt and all.
    fw.links.vendorA.force(GATEWAY_502, (m, u) => m === 'GET' && u === '/item');
    expect((await a.pay(item)).status).toBe(502);
    // Unknown whether the coins were taken: neither given back nor settled.
    expect(a.wallet.unsettled()).toHaveLength(1);
    expect(a.wallet.chains()[0]!.spent).toBe(10);
    expect(await recoverPayments(a.wallet)).toMatchObject({ resent: 1, accepted: 1 });
    // Given back, the next payment would have offered coins 6–10 again: the vendor holds them spent.
    const third = await a.pay(item);
    expect(third.netpay?.paid).toBe(50n);
    expect(a.wallet.chains()[0]!.spent).toBe(15);
    const accepted = a.wallet.history().filter((h) => h.status === 'accepted');
    expect(accepted.map((h) => h.parts[0]!.index)).toEqual([5, 10, 15]);
    keepReceipts(fw, [a]); // the seeds' checks of I1 count these coins too
  });

  it('a refund whose answers are all lost is asked again later under its kept key, refunded once', async () => {
    fw.faults(0, NO_FAULTS);
    const a = await newActor(fw, 'refunder');
    await a.wallet.load(1_000n, a.bank);
    await a.wallet.buy([{ coinValue: 10n, n: 50 }]);
    // Every attempt of this call is answered and the answer lost: the wallet gives up.
    for (let i = 0; i < 6; i++) fw.links.broker.force(RESET, post('/refund'));
    await expect(a.wallet.refund()).rejects.toMatchObject({ code: 'broker_unreachable' });
    expect(a.wallet.chains()[0]!.status).toBe('active');
    // Later: the same key, the first answer (not "already refunded").
    const r = await a.wallet.refund();
    expect(r.amount).toBe(500n);
    expect(a.wallet.chains()[0]!.status).toBe('refunded');
    expect(await brokerBalance(a)).toBe(1_000n);
  });

  it('a chain handed on while a claim for it is in flight is redeemed once, none of it refused (soak seed 14)', async () => {
    fw.faults(0, NO_FAULTS);
    const a = await newActor(fw, 'claims');
    await a.wallet.load(1_000n, a.bank);
    await a.wallet.buy([{ coinValue: 10n, n: 50 }]);
    const [shopA, shopB] = fw.vendors as [RunningVendor, RunningVendor];
    const chainId = a.wallet.chains()[0]!.chainId;
    expect((await a.pay(`${shopB.advertised}/item`)).netpay?.paid).toBe(50n);
    // B claims coins (0, 5]; the broker credits them, and the answer is lost: the claim stays in flight.
    fw.links.broker.force(RESET, post('/redemptions'));
    await expect(shopB.redeemer.redeem()).rejects.toThrow();
    // B accepts (5, 10], then hands the chain on to A: its holding (0, 10] ends while (0, 5] is in flight.
    expect((await a.pay(`${shopB.advertised}/item`)).netpay?.paid).toBe(50n);
    expect((await a.pay(`${shopA.advertised}/item`)).netpay?.paid).toBe(50n);
    await shopB.redeemer.redeem();
    await shopB.redeemer.redeem();
    const claims = await shopB.db.query<{ from_index: number; to_index: number; status: string }>(
      'SELECT from_index, to_index, status FROM vendor_claims WHERE chain_id = $1 ORDER BY from_index',
      [chainId],
    );
    expect(claims).toEqual([
      { from_index: 0, to_index: 5, status: 'credited' },
      { from_index: 5, to_index: 10, status: 'credited' },
    ]);
    const [r] = await fw.w.db.query<{ coins: number }>(
      'SELECT sum(to_index - from_index)::int4 AS coins FROM redemptions WHERE chain_id = $1 AND party_id = $2',
      [chainId, shopB.id],
    );
    expect(r!.coins).toBe(10);
    keepReceipts(fw, [a]);
  });

  it('a chain taken over from an older backup is left out of payments and refunded (soak seed 50 at 1.5×)', async () => {
    fw.faults(0, NO_FAULTS);
    const a = await newActor(fw, 'taken-over');
    await a.wallet.load(2_000n, a.bank);
    await a.wallet.buy([{ coinValue: 10n, n: 50, count: 2 }]);
    const [shopA, shopB] = fw.vendors as [RunningVendor, RunningVendor];
    const [x, y] = a.wallet.chains().map((c) => c.chainId) as [string, string];
    // A takes coins 1–5 of chain x and backs them up, then 6–10, not backed up yet.
    expect((await a.pay(`${shopA.advertised}/item`)).netpay?.paid).toBe(50n);
    await shopA.redeemer.backup();
    expect((await a.pay(`${shopA.advertised}/item`)).netpay?.paid).toBe(50n);
    // A stops answering hand-overs. B waits out A's lease (chain_busy), then takes x over from the backup.
    const handover = (m: string, u: string) => m === 'POST' && u.includes('/handover');
    fw.links.vendorA.force({ kind: 'drop', onResponse: false, r: 0 }, handover);
    fw.links.vendorA.force({ kind: 'drop', onResponse: false, r: 0 }, handover);
    const busy = await a.pay(`${shopB.advertised}/item`);
    expect(busy.status).toBe(409);
    fw.w.advance(11_000);
    // B's state of x is index 5, the wallet's 10: its exact coins are refused as more than the price, and
    // the wallet pays with chain y instead (it used to offer x again and again).
    const paid = await a.pay(`${shopB.advertised}/item`);
    fw.links.vendorA.unforce();
    expect(paid.netpay?.paid).toBe(50n);
    expect(
      a.wallet
        .history()
        .at(-1)!
        .parts.map((p) => p.chainId),
    ).toEqual([y]);
    expect((await a.wallet.balance({ broker: false })).coins).toBe(450n);
    // x's rest is refunded from the wallet's index (10): A keeps what it took under its lease.
    const refunded = await a.wallet.refund();
    expect([...refunded.chains].sort()).toEqual([x, y].sort());
    expect(refunded.amount).toBe(400n + 450n);
    keepReceipts(fw, [a]);
    await checkI1(shopA, fw.receipts);
    await checkI1(shopB, fw.receipts);
    await checkChains(fw.w, [x, y], [a.customerId]);
  });

  for (const seed of SEEDS)
    it(
      `seed ${seed}: every operation completes exactly once`,
      seeded(() => fw, seed, lines),
    );
});

/** One seed's run, its violations shown with the faults the proxies injected. */
function seeded(world: () => FaultWorld, seed: number, lines: string[]) {
  return async () => {
    lines.length = 0;
    const r = await runSeed(world(), seed);
    expect(r.violations, lines.join('\n')).toEqual([]);
    // The seed did meet faults, and the work was done.
    expect(Object.values(r.faultsInjected).reduce((s, n) => s + n, 0)).toBeGreaterThan(5);
    expect(r.operations.payment).toBeGreaterThan(0);
    expect(r.operations.refund).toBeGreaterThan(0);
    expect(r.operations.settlement).toBeGreaterThan(0);
  };
}

// On PostgreSQL duplicates really run at once (PGlite runs one statement at a time): one seed there.
describe.skipIf(SOAK_SEEDS > 0)('network faults [postgres]', () => {
  let fw: FaultWorld;
  const lines: string[] = [];
  beforeAll(async () => {
    fw = await startFaultWorld('postgres', (l) => lines.push(l));
  });
  afterAll(async () => {
    await fw?.close();
  });
  it(
    'seed 4: every operation completes exactly once',
    seeded(() => fw, 4, lines),
  );
});

// Registered only for the soak, so that `npm test` counts no skipped test.
if (SOAK_SEEDS > 0)
  describe('network faults soak', () => {
    it(`${SOAK_SEEDS} seeds`, { timeout: 0 }, async () => {
      const results: SeedResult[] = [];
      let fw: FaultWorld | undefined;
      for (let seed = 1; seed <= SOAK_SEEDS; seed++) {
        // A fresh world every 25 seeds, and after a seed with a violation (what it left unfinished, such as
        // payments still in flight, would be counted against the seeds after it).
        if ((seed - 1) % 25 === 0 || (results.at(-1)?.violations.length ?? 0) > 0) {
          await fw?.close();
          fw = await startFaultWorld('pglite');
        }
        const r = await runSeed(fw!, seed, { rates: soakRates });
        results.push(r);
        process.stderr.write(`faults: seed ${seed}: ${r.violations.length} violations\n`);
        for (const v of r.violations) process.stderr.write(`  ${v}\n`);
      }
      await fw?.close();
      const sum = <K extends string>(keys: readonly K[], of: (r: SeedResult) => Record<K, number>) =>
        Object.fromEntries(keys.map((k) => [k, results.reduce((s, r) => s + of(r)[k], 0)]));
      const report = {
        seeds: results.length,
        rates: soakRates,
        operations: sum(OP_KINDS, (r) => r.operations),
        faultsInjected: sum(FAULT_KINDS, (r) => r.faultsInjected),
        violations: results.flatMap((r) => r.violations),
      };
      if (process.env.NETPAY_FAULT_REPORT)
        writeFileSync(process.env.NETPAY_FAULT_REPORT, JSON.stringify(report));
    });
  });
