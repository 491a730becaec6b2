import type { Queryable } from '@netpay/db';
import { InvariantError } from '@netpay/protocol';

export type AccountKind = 'customer' | 'vendor' | 'coins' | 'fees' | 'bank' | 'fraud';

export const SYSTEM_ACCOUNTS = {
  coins: 'coins_outstanding',
  fees: 'fees',
  bank: 'bank',
  fraud: 'fraud',
} as const;

export const customerAccount = (customerId: string) => `customer:${customerId}`;
export const vendorAccount = (partyId: string) => `vendor:${partyId}`;

export interface Transfer {
  /** Unique per money movement: replaying the same id is a no-op error, never a second movement. */
  readonly id: string;
  readonly debit: string;
  readonly credit: string;
  readonly amount: bigint;
  readonly kind: string;
  readonly ref?: string;
}

export class InsufficientFunds extends Error {
  constructor(
    readonly account: string,
    readonly balance: bigint,
    readonly needed: bigint,
  ) {
    super(`account ${account} has ${balance}, needs ${needed}`);
  }
}

/**
 * The double-entry ledger. Every movement is one transfer between two accounts; balances are kept in the
 * account rows, updated in the same transaction, and audited against the sum of entries. Callers run
 * these inside a transaction; accounts are locked in id order to avoid deadlocks.
 */
export function createLedger(deps: { clock: () => number }) {
  async function openAccount(tx: Queryable, id: string, kind: AccountKind): Promise<void> {
    await tx.query(
      'INSERT INTO ledger_accounts (id, kind, created_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING',
      [id, kind, BigInt(deps.clock())],
    );
  }

  /** Locks the accounts (in id order) and returns their balances. */
  async function lock(
    tx: Queryable,
    ids: readonly string[],
  ): Promise<Map<string, { balance: bigint; kind: string }>> {
    const sorted = [...new Set(ids)].sort();
    const rows = await tx.query<{ id: string; balance: bigint; kind: string }>(
      'SELECT id, balance, kind FROM ledger_accounts WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE',
      [sorted],
    );
    if (rows.length !== sorted.length) {
      const found = new Set(rows.map((r) => r.id));
      throw new InvariantError(`ledger account missing: ${sorted.filter((id) => !found.has(id)).join(', ')}`);
    }
    return new Map(rows.map((r) => [r.id, { balance: r.balance, kind: r.kind }]));
  }

  /**
   * Posts transfers atomically with multi-row statements. Customer, vendor and coin accounts may not go
   * negative: a shortfall throws InsufficientFunds before anything is written.
   */
  async function post(tx: Queryable, transfers: readonly Transfer[]): Promise<void> {
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
    const delta = new Map<string, bigint>();
    for (const t of transfers) {
      delta.set(t.debit, (delta.get(t.debit) ?? 0n) - t.amount);
      delta.set(t.credit, (delta.get(t.credit) ?? 0n) + t.amount);
    }
    for (const [id, d] of delta) {
      const a = accounts.get(id)!;
      if ((a.kind === 'customer' || a.kind === 'vendor' || a.kind === 'coins') && a.balance + d < 0n) {
        throw new InsufficientFunds(id, a.balance, -d);
      }
    }
    const now = BigInt(deps.clock());
    await tx.query(
      `INSERT INTO ledger_transfers (id, debit_account, credit_account, amount, kind, ref, created_at)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[], $5::text[], $6::text[], $7::int8[])`,
      [
        transfers.map((t) => t.id),
        transfers.map((t) => t.debit),
        transfers.map((t) => t.credit),
        transfers.map((t) => t.amount.toString()),
        transfers.map((t) => t.kind),
        transfers.map((t) => t.ref ?? null),
        transfers.map(() => now.toString()),
      ],
    );
    const ids = [...delta.keys()];
    await tx.query(
      `UPDATE ledger_accounts a SET balance = a.balance + d.delta
       FROM unnest($1::text[], $2::int8[]) AS d(id, delta) WHERE a.id = d.id`,
      [ids, ids.map((id) => delta.get(id)!.toString())],
    );
  }

  async function balance(q: Queryable, id: string): Promise<bigint> {
    const [row] = await q.query<{ balance: bigint }>('SELECT balance FROM ledger_accounts WHERE id = $1', [
      id,
    ]);
    return row?.balance ?? 0n;
  }

  return { openAccount, lock, post, balance };
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
}

/** Checks the ledger's invariants in SQL. Exposed as GET /admin/audit and run after every test. */
export async function auditLedger(q: Queryable): Promise<AuditReport> {
  const [sum] = await q.query<{ total: bigint | null; n: bigint }>(
    'SELECT sum(balance)::int8 AS total, count(*)::int8 AS n FROM ledger_accounts',
  );
  const [tcount] = await q.query<{ n: bigint }>('SELECT count(*)::int8 AS n FROM ledger_transfers');
  const mismatched = await q.query<{ id: string; balance: bigint; entries: bigint }>(
    `SELECT a.id, a.balance, (COALESCE(c.s, 0) - COALESCE(d.s, 0))::int8 AS entries
     FROM ledger_accounts a
     LEFT JOIN (SELECT credit_account AS id, sum(amount) AS s FROM ledger_transfers GROUP BY credit_account) c ON c.id = a.id
     LEFT JOIN (SELECT debit_account AS id, sum(amount) AS s FROM ledger_transfers GROUP BY debit_account) d ON d.id = a.id
     WHERE a.balance <> COALESCE(c.s, 0) - COALESCE(d.s, 0)`,
  );
  const negative = await q.query<{ id: string }>(
    "SELECT id FROM ledger_accounts WHERE kind IN ('customer', 'vendor', 'coins') AND balance < 0",
  );
  const totals = await q.query<{ kind: string; total: bigint }>(
    'SELECT kind, sum(balance)::int8 AS total FROM ledger_accounts GROUP BY kind ORDER BY kind',
  );
  const sumOfBalances = sum?.total ?? 0n;
  return {
    ok: sumOfBalances === 0n && mismatched.length === 0 && negative.length === 0,
    accounts: Number(sum?.n ?? 0n),
    transfers: Number(tcount?.n ?? 0n),
    sumOfBalances: sumOfBalances.toString(),
    mismatched: mismatched.map((m) => ({
      id: m.id,
      balance: m.balance.toString(),
      entries: m.entries.toString(),
    })),
    negative: negative.map((r) => r.id),
    totals: Object.fromEntries(totals.map((t) => [t.kind, t.total.toString()])),
  };
}

/**
 * An account's statement: one entry per ledger transfer touching it, oldest first, at most `limit` (500).
 * `amount` is signed: negative for money out.
 */
export async function accountStatement(q: Queryable, account: string, limit = 500) {
  const rows = await q.query<{
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
  return rows.map((r) => ({
    id: r.id,
    kind: r.kind,
    amount: r.debit_account === account ? -r.amount : r.amount,
    ref: r.ref,
    createdAt: new Date(Number(r.created_at)).toISOString(),
  }));
}
