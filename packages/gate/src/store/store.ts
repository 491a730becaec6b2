/**
 * The vendor's chain store. This module only binds the store's modules, one per thing stored, to one
 * database, clock and cache:
 *   chains.ts          the chains held or held before (vendor_chains) and their cache
 *   holdings.ts        where a holding begins and ends (hand-overs in and out), and its lease
 *   receipts.ts        accepted coins and receipts by group commit; round.ts its one statement
 *   journal.ts         with `journal`: accepted coins on disk first (group fdatasync), and behind.ts
 *                      writes them behind into SQL, merged; sync-database.ts makes PGlite durable
 *   redemptions.ts     ranges to redeem, the payees that cut them, and the claims made for them
 *   wallet-charges.ts  server-side wallet charges kept or to void
 *   statement.ts       the vendor's accounts: accepted, redeemed, missing, revenue, payees' shares
 */
import { type Db, type Migration, type Queryable, sqlMigrations } from '@netpay/db';
import type { StoreState } from './chains.ts';
import * as chains from './chains.ts';
import * as holdings from './holdings.ts';
import { journaled } from './journaled.ts';
import * as receipts from './receipts.ts';
import * as redemptions from './redemptions.ts';
import type { Advance } from './round.ts';
import * as accounts from './statement.ts';
import { databaseSyncer } from './sync-database.ts';
import * as wallet from './wallet-charges.ts';

export type { HeldChain } from './chains.ts';
export type { ClaimRow, PayeeRun } from './redemptions.ts';
export type { Advance };

/** The vendor's schema, forward only: numbered SQL files in migrations/ (the file name is the id). */
export const VENDOR_MIGRATIONS: readonly Migration[] = sqlMigrations(
  new URL('./migrations/', import.meta.url),
);

export interface StoreOptions {
  readonly db: Db;
  readonly clock?: () => number;
  /** Most advances written in one transaction. Default 1,000. */
  readonly maxBatch?: number;
  /**
   * A journal file: accepted coins go there (durable, group fdatasync) instead of through SQL on each
   * payment, and are written behind into SQL. Only for a database this process alone writes (PGlite):
   * over a shared PostgreSQL, leave it out (the compare-and-set in SQL keeps instances apart).
   */
  readonly journal?: string;
  /**
   * PGlite's data folder, with `journal`: PGlite does not fsync its files, so before a journal file is
   * dropped the database is checkpointed and its files fsynced (power-loss safe). Absent: a database in
   * memory, or one durable at commit.
   */
  readonly databaseDir?: string;
  /** Where write-behind failures are reported (they are retried). Default: stderr. */
  readonly onError?: (e: unknown) => void;
}

/**
 * The chain store: hot state in memory, written through to SQL by group commit, each advance applied only
 * if its chain is still where the payment was verified (compare-and-set, receipts.ts), so two instances
 * over one PostgreSQL never both accept the same coin. With `journal`: journaled.ts.
 */
export function createChainStore(o: StoreOptions) {
  const s: StoreState = { db: o.db, clock: o.clock ?? Date.now, cache: new Map(), leases: new Map() };
  const queue = receipts.commitQueue(o.maxBatch ?? 1000);
  const base = bind(s, o.db, {
    commit: (advance: Advance) => receipts.commit(s, queue, advance),
    commitAll: (advances: readonly Advance[]) => receipts.commitAll(s, queue, advances),
  });
  if (!o.journal) return { ...base, close: async () => {} };
  return journaled(s, base, {
    path: o.journal,
    onError: o.onError ?? reportError,
    ...(o.databaseDir ? { syncDatabase: databaseSyncer(o.db, o.databaseDir) } : {}),
  });
}

const reportError = (e: unknown) =>
  console.error('netpay: writing the journal behind failed (will retry):', e);

/** The store's modules bound to one state and database; `commits` are how coins are accepted. */
function bind(s: StoreState, db: Queryable, commits: Pick<ChainStoreBase, 'commit' | 'commitAll'>) {
  const on =
    <A extends unknown[], R>(f: (s: StoreState, ...args: A) => R) =>
    (...args: A): R =>
      f(s, ...args);
  const read =
    <A extends unknown[], R>(f: (db: Queryable, ...args: A) => R) =>
    (...args: A): R =>
      f(db, ...args);
  return {
    statement: read(accounts.statement),
    revenue: read(accounts.revenue),
    keepWalletCharge: on(wallet.keepWalletCharge),
    voidLater: on(wallet.voidLater),
    voidsPending: on(wallet.voidsPending),
    markVoided: on(wallet.markVoided),
    payeeTotals: read(accounts.payeeTotals),
    recordClaims: on(redemptions.recordClaims),
    sentClaims: on(redemptions.sentClaims),
    settleClaim: on(redemptions.settleClaim),
    get: on(chains.get),
    peek: on(chains.peek),
    reload: on(chains.reload),
    hold: on(holdings.hold),
    release: on(holdings.release),
    ...commits,
    receipt: on(receipts.receipt),
    unredeemed: on(chains.unredeemed),
    heldChains: on(chains.heldChains),
    heldChainsAfter: on(chains.heldChainsAfter),
    markBackedUp: on(chains.markBackedUp),
    releaseTakenOver: on(holdings.releaseTakenOver),
    setLease: on(holdings.setLease),
    leaseValid: on(holdings.leaseValid),
    mayCommit: on(holdings.mayCommit),
    markRedeemed: on(chains.markRedeemed),
    pendingRanges: on(redemptions.pendingRanges),
    payeeRuns: on(redemptions.payeeRuns),
  };
}

interface ChainStoreBase {
  commit(advance: Advance): Promise<boolean>;
  commitAll(advances: readonly Advance[]): Promise<boolean>;
}
type Bound = ReturnType<typeof bind>;
export type ChainStore = Bound & { close(): Promise<void> };
