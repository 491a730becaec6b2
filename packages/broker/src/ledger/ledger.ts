/** The double-entry ledger: accounts, transfers between them, its invariants asserted, its audit and statements. */
import type { Queryable } from '@netpay/db';
import { InvariantError } from '@netpay/protocol';
import { fail } from '../errors.ts';
import * as store from './store.ts';
import type { AccountKind, Transfer } from './types.ts';

export type { AccountKind, Transfer, TransferKind } from './types.ts';

export const SYSTEM_ACCOUNTS = {
  coins: 'coins_outstanding',
  fees: 'fees',
  bank: 'bank',
  fraud: 'fraud',
} as const;

export const customerAccount = (customerId: string) => `customer:${customerId}`;
export const vendorAccount = (partyId: string) => `vendor:${partyId}`;

/** A shortfall: `account` has `balance`, a posting needs `needed` from it (insufficient_funds). */
export const insufficientFunds = (account: string, balance: bigint, needed: bigint) =>
  fail('insufficient_funds', `account ${account} has ${balance}, needs ${needed}`);

/** What the ledger runs on: the clock that stamps accounts and transfers (Unix milliseconds). */
export interface LedgerDeps {
  readonly clock: () => number;
}

/** Opens an account (a no-op when it exists already). */
export async function openAccount(
  d: LedgerDeps,
  tx: Queryable,
  id: string,
  kind: AccountKind,
): Promise<void> {
  await store.insertAccount(tx, id, kind, BigInt(d.clock()));
}

/** Locks the accounts (in id order, to avoid deadlocks) and returns their balances; all must exist. */
export async function lock(
  tx: Queryable,
  ids: readonly string[],
): Promise<Map<string, { balance: bigint; kind: string }>> {
  const sorted = [...new Set(ids)].sort();
  const rows = await store.lockAccounts(tx, sorted);
  if (rows.length !== sorted.length) {
    const found = new Set(rows.map((r) => r.id));
    throw new InvariantError(`ledger account missing: ${sorted.filter((id) => !found.has(id)).join(', ')}`);
  }
  return new Map(rows.map((r) => [r.id, { balance: r.balance, kind: r.kind }]));
}

/** Each account's net change over the transfers (debits negative). */
function deltas(transfers: readonly Transfer[]): Map<string, bigint> {
  const delta = new Map<string, bigint>();
  for (const t of transfers) {
    delta.set(t.debit, (delta.get(t.debit) ?? 0n) - t.amount);
    delta.set(t.credit, (delta.get(t.credit) ?? 0n) + t.amount);
  }
  return delta;
}

/**
 * Posts transfers atomically with multi-row statements, in the caller's transaction. Customer, vendor and
 * coin accounts may not go negative: a shortfall throws insufficient_funds (a NetPayError) before anything is written.
 */
export async function post(d: LedgerDeps, tx: Queryable, transfers: readonly Transfer[]): Promise<void> {
  if (transfers.length === 0) return;
  for (const t of transfers) {
    if (t.amount <= 0n)
      throw new InvariantError(`transfer ${t.id}: amount must be positive, got ${t.amount}`);
    if (t.debit === t.credit)
      throw new InvariantError(`transfer ${t.id}: debit and credit are the same account`);
  }
  const accounts = await lock(
    tx,
    transfers.flatMap((t) => [t.debit, t.credit]),
  );
  const delta = deltas(transfers);
  for (const [id, change] of delta) {
    const a = accounts.get(id)!;
    if ((a.kind === 'customer' || a.kind === 'vendor' || a.kind === 'coins') && a.balance + change < 0n) {
      throw insufficientFunds(id, a.balance, -change);
    }
  }
  await store.insertTransfers(tx, transfers, BigInt(d.clock()));
  await store.addToBalances(tx, delta);
}

/**
 * The double-entry ledger. Every movement is one transfer between two accounts; balances are kept in the
 * account rows, updated in the same transaction, and audited against the sum of entries. Callers run
 * these inside a transaction. The functions above, bound to `d`; their SQL is in store.ts.
 */
export function createLedger(d: LedgerDeps) {
  return {
    openAccount: (tx: Queryable, id: string, kind: AccountKind) => openAccount(d, tx, id, kind),
    lock,
    post: (tx: Queryable, transfers: readonly Transfer[]) => post(d, tx, transfers),
    balance: (q: Queryable, id: string): Promise<bigint> => store.balanceOf(q, id),
  };
}

export type Ledger = ReturnType<typeof createLedger>;

export interface AuditReport {
  readonly ok: boolean;
  readonly accounts: number;
  readonly transfers: number;
  /** Sum of all balances: must be 0. */
  readonly sumOfBalances: string;
  /** Accounts whose stored balance differs from the sum of their entries. */
  readonly mismatched: { id: string; balance: string; entries: string }[];
  /** Customer, vendor or coin accounts below zero. */
  readonly negative: string[];
  readonly totals: Record<string, string>;
  /**
   * Tokens granted to new peers (`p2p_grant`, P2P tokens mode). A grant comes from `bank` like a load, so
   * the invariants hold as they do for loads, but no money came in at the bank: the broker's money at
   * the bank is −`bank` − grants.
   */
  readonly grants: string;
}

/** Checks the ledger's invariants in SQL. Exposed as GET /admin/audit and run after every test. */
export async function auditLedger(q: Queryable): Promise<AuditReport> {
  const sum = await store.sumOfBalances(q);
  const transfers = await store.countTransfers(q);
  const mismatched = await store.mismatchedBalances(q);
  const negative = await store.negativeAccounts(q);
  const totals = await store.totalsByKind(q);
  const grants = await store.totalOfKind(q, 'p2p_grant');
  return {
    ok: sum.total === 0n && mismatched.length === 0 && negative.length === 0,
    accounts: Number(sum.accounts),
    transfers: Number(transfers),
    sumOfBalances: sum.total.toString(),
    mismatched: mismatched.map((m) => ({
      id: m.id,
      balance: m.balance.toString(),
      entries: m.entries.toString(),
    })),
    negative: negative.map((r) => r.id),
    totals: Object.fromEntries(totals.map((t) => [t.kind, t.total.toString()])),
    grants: grants.toString(),
  };
}

/**
 * An account's statement: one entry per ledger transfer touching it, oldest first, at most `limit` (500).
 * `amount` is signed: negative for money out.
 */
export async function accountStatement(q: Queryable, account: string, limit = 500) {
  const rows = await store.transfersOf(q, account, limit);
  return rows.map((r) => ({
    id: r.id,
    kind: r.kind,
    amount: r.debit_account === account ? -r.amount : r.amount,
    ref: r.ref,
    createdAt: new Date(Number(r.created_at)).toISOString(),
  }));
}
