/**
 * The SQL of the double-entry ledger: the ledger_accounts and ledger_transfers tables (migration 0200).
 * ledger.ts asserts the invariants around these statements and is what the rest of the broker calls.
 * One other statement reads ledger_accounts: settlement's vendors' balances due (settlement/store.ts joins
 * it with parties and locks the accounts it pays out from).
 * Times are Unix milliseconds as bigint, as the tables store them.
 */
import type { Queryable } from '@netpay/db';
import type { AccountKind, Transfer } from './types.ts';

export async function insertAccount(q: Queryable, id: string, kind: AccountKind, createdAt: bigint) {
  await q.query(
    'INSERT INTO ledger_accounts (id, kind, created_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING',
    [id, kind, createdAt],
  );
}

/** Locks the accounts `ids` (sorted by the caller) in id order; the ones found, with balance and kind. */
export async function lockAccounts(q: Queryable, ids: readonly string[]) {
  return q.query<{ id: string; balance: bigint; kind: string }>(
    'SELECT id, balance, kind FROM ledger_accounts WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE',
    [ids],
  );
}

/** Writes the transfers in one multi-row statement, all at `createdAt`. */
export async function insertTransfers(q: Queryable, transfers: readonly Transfer[], createdAt: bigint) {
  await q.query(
    `INSERT INTO ledger_transfers (id, debit_account, credit_account, amount, kind, ref, created_at)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[], $5::text[], $6::text[], $7::int8[])`,
    [
      transfers.map((t) => t.id),
      transfers.map((t) => t.debit),
      transfers.map((t) => t.credit),
      transfers.map((t) => t.amount.toString()),
      transfers.map((t) => t.kind),
      transfers.map((t) => t.ref ?? null),
      transfers.map(() => createdAt.toString()),
    ],
  );
}

/** Adds each account's delta to its stored balance, in one statement. */
export async function addToBalances(q: Queryable, delta: ReadonlyMap<string, bigint>) {
  const ids = [...delta.keys()];
  await q.query(
    `UPDATE ledger_accounts a SET balance = a.balance + d.delta
       FROM unnest($1::text[], $2::int8[]) AS d(id, delta) WHERE a.id = d.id`,
    [ids, ids.map((id) => delta.get(id)!.toString())],
  );
}

/** The account's stored balance; 0 for an account never opened. */
export async function balanceOf(q: Queryable, id: string): Promise<bigint> {
  const [row] = await q.query<{ balance: bigint }>('SELECT balance FROM ledger_accounts WHERE id = $1', [id]);
  return row?.balance ?? 0n;
}

// ---- The audit: the invariants, checked in SQL ----

/** The sum of every balance (must be 0) and the number of accounts. */
export async function sumOfBalances(q: Queryable) {
  const [sum] = await q.query<{ total: bigint | null; n: bigint }>(
    'SELECT sum(balance)::int8 AS total, count(*)::int8 AS n FROM ledger_accounts',
  );
  return { total: sum?.total ?? 0n, accounts: sum?.n ?? 0n };
}

export async function countTransfers(q: Queryable): Promise<bigint> {
  const [tcount] = await q.query<{ n: bigint }>('SELECT count(*)::int8 AS n FROM ledger_transfers');
  return tcount?.n ?? 0n;
}

/** Accounts whose stored balance differs from the sum of their entries. */
export async function mismatchedBalances(q: Queryable) {
  return q.query<{ id: string; balance: bigint; entries: bigint }>(
    `SELECT a.id, a.balance, (COALESCE(c.s, 0) - COALESCE(d.s, 0))::int8 AS entries
     FROM ledger_accounts a
     LEFT JOIN (SELECT credit_account AS id, sum(amount) AS s FROM ledger_transfers GROUP BY credit_account) c ON c.id = a.id
     LEFT JOIN (SELECT debit_account AS id, sum(amount) AS s FROM ledger_transfers GROUP BY debit_account) d ON d.id = a.id
     WHERE a.balance <> COALESCE(c.s, 0) - COALESCE(d.s, 0)`,
  );
}

/** Customer, vendor or coin accounts below zero. */
export async function negativeAccounts(q: Queryable) {
  return q.query<{ id: string }>(
    "SELECT id FROM ledger_accounts WHERE kind IN ('customer', 'vendor', 'coins') AND balance < 0",
  );
}

/** The total of transfers of one kind (the audit's grants: `p2p_grant`). */
export async function totalOfKind(q: Queryable, kind: string): Promise<bigint> {
  const [row] = await q.query<{ total: bigint }>(
    'SELECT COALESCE(sum(amount), 0)::int8 AS total FROM ledger_transfers WHERE kind = $1',
    [kind],
  );
  return row?.total ?? 0n;
}

/** The sum of balances by kind of account. */
export async function totalsByKind(q: Queryable) {
  return q.query<{ kind: string; total: bigint }>(
    'SELECT kind, sum(balance)::int8 AS total FROM ledger_accounts GROUP BY kind ORDER BY kind',
  );
}

/** The transfers touching `account`, oldest first, at most `limit`. */
export async function transfersOf(q: Queryable, account: string, limit: number) {
  return q.query<{
    id: string;
    debit_account: string;
    amount: bigint;
    kind: string;
    ref: string | null;
    created_at: bigint;
  }>(
    `SELECT id, debit_account, amount, kind, ref, created_at FROM ledger_transfers
     WHERE debit_account = $1 OR credit_account = $1 ORDER BY seq LIMIT $2`,
    [account, limit],
  );
}

/** The transfers `ids` as they were posted (to undo some of them: a voided charge). */
export async function postedTransfers(q: Queryable, ids: readonly string[]) {
  return q.query<{ id: string; credit_account: string; amount: bigint }>(
    'SELECT id, credit_account, amount FROM ledger_transfers WHERE id = ANY($1::text[])',
    [ids],
  );
}
