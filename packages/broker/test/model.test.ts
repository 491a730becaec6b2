/**
 * Seeded model test of the broker (TigerBeetle's VOPR in small): thousands of random operations by five
 * customers, three vendors and the operator against the real broker services on an in-memory PGlite with a
 * flaky in-memory bank and a controllable clock, the money invariants I1–I4 of docs/protocol.md §8.9 (and
 * the broker's others) checked after every step (see test/model/sim.ts): leases, take-overs refused
 * while a lease runs, refunds pending until the holder answers (one model vendor serves hand-over requests
 * over HTTP) or its lease is over, cheating customers charged back.
 *
 *   NETPAY_MODEL_SEED=123 [NETPAY_MODEL_STEPS=800] npx vitest run packages/broker/test/model.test.ts
 *
 * replays one seed; without it a few fixed seeds and one random seed run (a failure prints its seed, the
 * step and the last operations). NETPAY_MODEL_SKIP=<name> turns off one check (names in SKIPPABLE) to keep
 * exploring past a known bug; unset, it skips the known open ones (KNOWN_OPEN), and NETPAY_MODEL_SKIP=
 * (empty) runs everything. NETPAY_MODEL_VERBOSE=1 prints every step.
 */
import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLedger } from '../src/ledger/ledger.ts';
import { KNOWN_OPEN, runModel, SKIPPABLE, type Skippable } from './model/sim.ts';
import { type SmallChain, smallWorld } from './model/small-world.ts';

const FIXED_SEEDS = [1, 2, 3];
const LEASE_MS = 10_000;
const DEFAULT_STEPS = 1_200;

function envSkip(): Set<Skippable> {
  const env = process.env.NETPAY_MODEL_SKIP;
  const names = env === undefined ? [...KNOWN_OPEN] : env.split(',').filter(Boolean);
  for (const n of names) {
    if (!(n in SKIPPABLE))
      throw new Error(`NETPAY_MODEL_SKIP: unknown name ${n}; known: ${Object.keys(SKIPPABLE)}`);
  }
  return new Set(names as Skippable[]);
}

const replay = process.env.NETPAY_MODEL_SEED;
const steps = Number(process.env.NETPAY_MODEL_STEPS ?? DEFAULT_STEPS);
const seeds = replay ? [Number(replay)] : [...FIXED_SEEDS, randomInt(1, 2 ** 31)];
const skip = envSkip();
const log = process.env.NETPAY_MODEL_VERBOSE ? (line: string) => console.log(line) : undefined;

describe('broker model', () => {
  for (const seed of seeds) {
    it(`keeps I1–I4 and the broker's other invariants for seed ${seed} (${steps} steps)`, {
      timeout: 120_000,
    }, async () => {
      const summary = await runModel({ seed, steps, skip, ...(log ? { log } : {}) });
      expect(summary.steps).toBe(steps);
      if (log) console.log(JSON.stringify(summary));
    });
  }
});

/** What the random runs found, replayed as small deterministic cases (one world for the first three). */
describe('broker model regressions', () => {
  let w: Awaited<ReturnType<typeof smallWorld>>;
  const balance = (customerId: string) => w.s.issuance.customerBalance(w.db, customerId);
  beforeAll(async () => {
    w = await smallWorld(101);
  });
  afterAll(() => w?.close());

  it('refuses backup and hand-over indexes whose payword is not on the chain (seed 1, step 97)', async () => {
    const c = await w.customer();
    const a = await w.vendor();
    const b = await w.vendor();
    const ch = w.chain(10);
    await w.buy(c, [ch]);
    expect((await w.s.directory.claim(a.id, ch.chainId)).granted).toBe(true);
    // The wallet paid a two coins (a is at W(2)); a claims the chain is spent up to 9, with a made-up payword.
    const forgedBackup = w.index(a, ch, 9, w.randomWord(), null);
    await expect(w.s.directory.backup(a.id, forgedBackup)).rejects.toMatchObject({ code: 'payword_invalid' });
    const forgedHandover = w.index(a, ch, 9, w.randomWord(), b.id);
    await expect(w.s.directory.handover(b.id, forgedHandover)).rejects.toMatchObject({
      code: 'payword_invalid',
    });
    const honest = w.index(a, ch, 2, ch.words[2]!, b.id);
    expect(await w.s.directory.handover(b.id, honest)).toMatchObject({ granted: true, index: 2 });
    // So a refund (once b's lease is over: b never answers) still returns the eight coins never spent.
    w.advance(LEASE_MS);
    const r = await w.s.refunds.refund(c.customerId, ch.chainId, 2);
    expect(r).toMatchObject({ status: 'refunded', refundedFrom: 2, coins: 8, amount: 80n });
  });

  it('refuses a claim id used on another chain, also next to a replay of its first claim (seeds 2, 3)', async () => {
    const c = await w.customer();
    const v = await w.vendor();
    // The broker handles a batch's claims in chain-id order: make the chain of the reused id come first.
    const [y, x] = [w.chain(10), w.chain(10)].sort((p, q) => (p.chainId < q.chainId ? -1 : 1)) as [
      SmallChain,
      SmallChain,
    ];
    await w.buy(c, [x, y]);
    await w.s.directory.claim(v.id, x.chainId);
    await w.s.directory.claim(v.id, y.chainId);
    const first = w.claim(v, x, 0, 3);
    expect((await w.redeem(v, [first]))[0]).toMatchObject({ status: 'credited', coins: 3 });
    const reused = w.claim(v, y, 0, 3, first.claimId);
    const answer = (r: { status: string; replayed?: boolean; code?: string }) =>
      r.status === 'credited' ? (r.replayed ? 'replayed' : 'credited') : r.code;
    // Both used to fail with "duplicate key value violates unique constraint redemptions_pkey".
    expect((await w.redeem(v, [reused])).map(answer)).toEqual(['duplicate_claim_id']);
    expect((await w.redeem(v, [reused, first])).map(answer)).toEqual(['duplicate_claim_id', 'replayed']);
    // The coins of y are still there for a claim with a fresh id.
    expect((await w.redeem(v, [w.claim(v, y, 0, 3)]))[0]).toMatchObject({ status: 'credited', coins: 3 });
  });

  it('credits a claim spanning two back-to-back holdings of one vendor (seed 4, step 201)', async () => {
    const c = await w.customer();
    const a = await w.vendor();
    const b = await w.vendor();
    const ch = w.chain(10);
    await w.buy(c, [ch]);
    await w.s.directory.claim(a.id, ch.chainId);
    // a accepts W(3), hands the chain to b at 3; b accepts nothing and hands it back at 3; a accepts W(5).
    await w.s.directory.handover(b.id, w.index(a, ch, 3, ch.words[3]!, b.id));
    await w.s.directory.handover(a.id, w.index(b, ch, 3, ch.words[3]!, a.id));
    // Every coin of (0, 5] was accepted by a while it held the chain (back-to-back holdings join).
    expect((await w.redeem(a, [w.claim(a, ch, 0, 5)]))[0]).toMatchObject({ status: 'credited', coins: 5 });
  });

  it("refuses a take-over while the holder's lease runs (lease_active, retryAfter) and grants it after", async () => {
    const c = await w.customer();
    const a = await w.vendor();
    const b = await w.vendor();
    const ch = w.chain(10);
    await w.buy(c, [ch]);
    expect(await w.s.directory.claim(a.id, ch.chainId)).toMatchObject({ granted: true, leaseMs: LEASE_MS });
    w.advance(4_000);
    await expect(w.s.directory.takeover(b.id, ch.chainId)).rejects.toMatchObject({
      code: 'lease_active',
      details: { retryAfter: 6 },
    });
    // A backup renews the lease: still refused after the first lease would have ended.
    await w.s.directory.backup(a.id, w.index(a, ch, 2, ch.words[2]!, null));
    w.advance(8_000);
    await expect(w.s.directory.takeover(b.id, ch.chainId)).rejects.toMatchObject({ code: 'lease_active' });
    w.advance(2_000);
    expect(await w.s.directory.takeover(b.id, ch.chainId)).toMatchObject({
      granted: true,
      previousHolder: a.id,
      start: { index: 2 },
    });
  });

  it('I1, I2, I3: pays both vendors for coins the owner spent twice after a take-over, charging the owner back (the shortfall from the fraud account)', async () => {
    // 1,100 loaded, 1,000 in coins of 50: 100 left for a charge-back of 200.
    const c = await w.customer(1_100n);
    const a = await w.vendor();
    const b = await w.vendor();
    const ch = w.chain(20);
    await w.buy(c, [ch], 50n);
    await w.s.directory.claim(a.id, ch.chainId);
    await w.s.directory.backup(a.id, w.index(a, ch, 2, ch.words[2]!, null));
    // a accepts 3–6 under its lease and falls silent; b takes over from the backup once the lease is over.
    w.advance(LEASE_MS);
    expect(await w.s.directory.takeover(b.id, ch.chainId)).toMatchObject({ start: { index: 2 } });
    // The owner pays b coins 3–6 again.
    const before = await balance(c.customerId);
    expect((await w.redeem(b, [w.claim(b, ch, 2, 6)]))[0]).toMatchObject({ status: 'credited', coins: 4 });
    // I1: a's coins beyond the take-over point are its own (a soft end); I2: the doubled four are charged back.
    expect((await w.redeem(a, [w.claim(a, ch, 0, 6)]))[0]).toMatchObject({ status: 'credited', coins: 6 });
    expect(before).toBe(100n);
    expect(await balance(c.customerId)).toBe(0n);
    const [cb] = await w.db.query<{ coins: number; from_customer: bigint; from_broker: bigint }>(
      'SELECT coins, from_customer, from_broker FROM charge_backs WHERE chain_id = $1',
      [ch.chainId],
    );
    expect(cb).toEqual({ coins: 4, from_customer: 100n, from_broker: 100n });
    const [ev] = await w.db.query<{ n: bigint }>(
      "SELECT count(*)::int8 AS n FROM fraud_evidence WHERE chain_id = $1 AND reason = 'double_spend'",
      [ch.chainId],
    );
    expect(ev!.n).toBe(1n);
    // I3: bought 20 + charged back 4 = credited 4 + 6 + unspent 14 coins; the ledger balances.
    expect((await auditLedger(w.db)).ok).toBe(true);
  });

  it("I4: a refund stating less than the wallet spent is pending while the silent holder's lease runs, completes after it, and the holder's later claim is charged back", async () => {
    const c = await w.customer();
    const a = await w.vendor();
    const ch = w.chain(20);
    await w.buy(c, [ch]);
    await w.s.directory.claim(a.id, ch.chainId);
    w.advance(3_000);
    // The wallet spent 8 at a (no backup); the customer states 5.
    expect(await w.s.refunds.refund(c.customerId, ch.chainId, 5)).toEqual({
      status: 'pending',
      chainId: ch.chainId,
      retryAfter: 7,
    });
    await expect(w.s.directory.claim((await w.vendor()).id, ch.chainId)).rejects.toMatchObject({
      code: 'chain_refunding',
    });
    expect(await w.s.refunds.completePending()).toEqual({ pending: 1, completed: 0 });
    w.advance(LEASE_MS);
    expect(await w.s.refunds.completePending()).toEqual({ pending: 0, completed: 1 });
    const refunded = await balance(c.customerId);
    expect((await w.redeem(a, [w.claim(a, ch, 0, 8)]))[0]).toMatchObject({ status: 'credited', coins: 8 });
    expect(refunded - (await balance(c.customerId))).toBe(30n);
  });

  it("I4: never charges back an honest owner: a refund stating the true index pays the holder's coins and nothing more", async () => {
    const c = await w.customer();
    const a = await w.vendor();
    const ch = w.chain(20);
    await w.buy(c, [ch]);
    await w.s.directory.claim(a.id, ch.chainId);
    expect(await w.s.refunds.refund(c.customerId, ch.chainId, 8)).toMatchObject({ status: 'pending' });
    w.advance(LEASE_MS);
    expect(await w.s.refunds.refund(c.customerId, ch.chainId, 8)).toMatchObject({
      status: 'refunded',
      refundedFrom: 8,
      coins: 12,
    });
    const refunded = await balance(c.customerId);
    expect((await w.redeem(a, [w.claim(a, ch, 0, 8)]))[0]).toMatchObject({ status: 'credited', coins: 8 });
    expect(await balance(c.customerId)).toBe(refunded);
  });

  // Found by the model (its 'learned-payword-claims' attack): a soft end reaches to the chain's end, and
  // the directory used to show any vendor the holder's backup payword, so a vendor that was taken over
  // could claim coins it never accepted and the honest owner was charged back when the new holder claimed
  // them. The directory now shows the backup only to the holder.
  it('I4: a vendor taken over cannot get coins it never accepted charged to the honest owner', async () => {
    const c = await w.customer();
    const a = await w.vendor();
    const b = await w.vendor();
    const ch = w.chain(20);
    await w.buy(c, [ch]);
    await w.s.directory.claim(a.id, ch.chainId);
    await w.s.directory.backup(a.id, w.index(a, ch, 3, ch.words[3]!, null));
    w.advance(LEASE_MS);
    await w.s.directory.takeover(b.id, ch.chainId);
    // The honest wallet pays b coins 4–8; b backs up at 8.
    await w.s.directory.backup(b.id, w.index(b, ch, 8, ch.words[8]!, null));
    // a learns who holds the chain, not how far it is spent: no payword of b's coins.
    const seen = await w.s.directory.claim(a.id, ch.chainId);
    expect(seen).toMatchObject({ granted: false, holder: { id: b.id }, backup: null });
    const before = await balance(c.customerId);
    await w.redeem(b, [w.claim(b, ch, 3, 8)]);
    expect(await balance(c.customerId)).toBe(before);
  });

  it('does not sign touchstones with a key whose creation was rolled back (found while adding crashes)', async () => {
    const fresh = await smallWorld(104);
    try {
      const c = await fresh.customer();
      const ch = fresh.chain(5);
      // The first purchase creates the broker's signing key inside its transaction; this one is refused
      // (the same chain twice) after that, so the key's row is rolled back.
      await expect(fresh.buy(c, [ch, ch])).rejects.toMatchObject({ code: 'chain_exists' });
      // Regression: the cached key had never been stored — "violates foreign key constraint" on chains.key_id.
      const bought = await fresh.buy(c, [fresh.chain(5)]);
      const keyIds = (await fresh.s.keys.list()).map((k) => k.keyId);
      expect(keyIds).toContain(bought.chains[0]!.touchstone.keyId);
    } finally {
      await fresh.close();
    }
  });
});
