/**
 * Broker benchmarks (run by `npm run bench`): redemption throughput for claims of 1,000 coins, and chains
 * issued per second, on PGlite in memory, through the broker's services and transactions as the HTTP
 * routes call them (no HTTP, no wallet-side hashing in the timings).
 */
import { migrate, openDatabase } from '@netpay/db';
import {
  ChainTraversal,
  type Claim,
  createSigner,
  randomBytes,
  signMessage,
  toBase64url,
} from '@netpay/protocol';
import { createBroker } from '../src/app.ts';
import { customerAccount, SYSTEM_ACCOUNTS } from '../src/ledger/ledger.ts';
import { BROKER_MIGRATIONS } from '../src/migrations.ts';

const COINS = 1000;
/** Chains per purchase in the batched issuance figure: the most one purchase may hold (docs/broker.md §13). */
const ISSUE_BATCH = 20;

async function world() {
  const db = await openDatabase();
  await migrate(db, BROKER_MIGRATIONS);
  const broker = createBroker({
    db,
    config: {
      argon2: { t: 1, m: 64, p: 1 },
      maxChainLength: COINS,
      registration: 'open',
      limits: { maxOutstanding: '9000000000000', maxTransaction: '9000000000000', maxLoad: '9000000000000' },
    },
  });
  const s = broker.services;
  const { customerId } = await s.accounts.register({
    login: 'bench@example.com',
    password: 'bench password 1',
    deviceName: 'b',
  });
  await db.transaction((tx) =>
    broker.ctx.ledger.post(tx, [
      {
        id: 'bench-funds',
        debit: SYSTEM_ACCOUNTS.bank,
        credit: customerAccount(customerId),
        amount: 10n ** 15n,
        kind: 'load',
      },
    ]),
  );
  return { db, broker, customerId };
}

function makeChains(count: number) {
  return Array.from({ length: count }, () => {
    const id = randomBytes(16);
    const { traversal, root } = ChainTraversal.create(randomBytes(32), id, COINS);
    let last: Uint8Array = new Uint8Array(0);
    for (let i = 0; i < COINS; i++) last = traversal.next()!.payword;
    return { chainId: toBase64url(id), root: toBase64url(root), end: toBase64url(last) };
  });
}

export async function runBrokerBench() {
  const { db, broker, customerId } = await world();
  const s = broker.services;
  const chainCount = 1200;
  const chains = makeChains(chainCount);
  const buy = (k: number, batch: typeof chains) =>
    db.transaction((tx) =>
      s.issuance.buy(
        tx,
        customerId,
        batch.map((c) => ({ coinValue: 1n, n: COINS, chainId: c.chainId, root: c.root })),
        `bench-buy-${k}`,
      ),
    );
  // Issuance: one chain per purchase (its own transaction) for the first 200, as a wallet that buys one
  // at a time; then purchases of ISSUE_BATCH chains, as a wallet buys a stock of coins at once.
  const singles = chains.slice(0, 200);
  const t0 = performance.now();
  for (const [k, c] of singles.entries()) await buy(k, [c]);
  const singleIssueMs = performance.now() - t0;
  const batchedChains = chains.slice(200);
  const t0b = performance.now();
  for (let i = 0; i < batchedChains.length; i += ISSUE_BATCH)
    await buy(1000 + i, batchedChains.slice(i, i + ISSUE_BATCH));
  const batchIssueMs = performance.now() - t0b;

  const seed = randomBytes(32);
  const vendor = createSigner(seed);
  await s.parties.register({
    id: 'bench-vendor',
    kind: 'vendor',
    name: 'bench',
    publicKey: toBase64url(vendor.publicKey),
  });
  // The vendor takes every chain through the directory first (not timed): it may redeem only what it held.
  for (const c of chains) await s.directory.claim('bench-vendor', c.chainId);
  const claims: Claim[] = chains.map((c, k) => {
    const claimId = new Uint8Array(16);
    new DataView(claimId.buffer).setUint32(0, k);
    return signMessage(
      'claim',
      {
        v: 1,
        claimId: toBase64url(claimId),
        vendorId: 'bench-vendor',
        chainId: c.chainId,
        from: { index: 0, payword: c.root },
        to: { index: COINS, payword: c.end },
        issuedAt: Math.floor(Date.now() / 1000),
      },
      vendor,
    );
  });

  const redeem = async (batch: readonly Claim[]) => {
    const results = await db.transaction((tx) => s.redemption.redeem(tx, 'bench-vendor', batch));
    if (results.some((r) => r.status !== 'credited'))
      throw new Error(`redemption failed: ${JSON.stringify(results[0])}`);
  };
  // One claim per transaction for the first 100 chains, then batches of 50 claims per transaction.
  const singleClaims = claims.slice(0, 100);
  const t1 = performance.now();
  for (const c of singleClaims) await redeem([c]);
  const singleMs = performance.now() - t1;
  const batched = claims.slice(100);
  const t2 = performance.now();
  for (let i = 0; i < batched.length; i += 50) await redeem(batched.slice(i, i + 50));
  const batchMs = performance.now() - t2;

  const report = await (await import('../src/ledger/ledger.ts')).auditLedger(db);
  await db.close();
  if (!report.ok) throw new Error('ledger audit failed after the benchmark');
  return {
    database: 'pglite (in memory)',
    issuance: {
      chainsPerSec: Math.round((batchedChains.length / batchIssueMs) * 1000),
      chainsPerPurchase: ISSUE_BATCH,
      onePerPurchaseChainsPerSec: Math.round((singles.length / singleIssueMs) * 1000),
      coinsPerChain: COINS,
      goal: { must: 2000, goal: 10_000 },
    },
    redemption: {
      coinsPerClaim: COINS,
      oneClaimPerTransaction: {
        claims: singleClaims.length,
        coinsPerSec: Math.round(((singleClaims.length * COINS) / singleMs) * 1000),
      },
      fiftyClaimsPerTransaction: {
        claims: batched.length,
        coinsPerSec: Math.round(((batched.length * COINS) / batchMs) * 1000),
      },
      goalCoinsPerSec: 200_000,
    },
    ledgerBalanced: report.ok,
  };
}
