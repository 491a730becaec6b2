/**
 * The SQL of the bank_movements table (migration 0240): loads and unloads between a customer's bank account
 * and their broker account, one row per Idempotency-Key. Nothing else in the broker touches this table;
 * each function runs on the Queryable it is given (the database, or the caller's transaction). Times are
 * Unix milliseconds as bigint, as the table stores them.
 */
import type { Queryable } from '@netpay/db';

export type MovementKind = 'load' | 'unload';
export type MovementStatus = 'pending' | 'done' | 'failed';

/** Locks a movement to compare a retried request with the one first recorded under its key. */
export async function lockMovement(q: Queryable, id: string) {
  const [m] = await q.query<{ amount: bigint; bank_account: string; status: MovementStatus }>(
    'SELECT amount, bank_account, status FROM bank_movements WHERE id = $1 FOR UPDATE',
    [id],
  );
  return m;
}

/** Locks a movement to settle it; its current status, or undefined when there is no such movement. */
export async function lockMovementStatus(q: Queryable, id: string): Promise<string | undefined> {
  const [row] = await q.query<{ status: string }>(
    'SELECT status FROM bank_movements WHERE id = $1 FOR UPDATE',
    [id],
  );
  return row?.status;
}

/** Records a new movement as pending. */
export async function insertMovement(
  q: Queryable,
  m: {
    id: string;
    customerId: string;
    kind: MovementKind;
    amount: bigint;
    bankAccount: string;
    createdAt: bigint;
  },
) {
  await q.query(
    `INSERT INTO bank_movements (id, customer_id, kind, amount, bank_account, status, created_at)
         VALUES ($1, $2, $3, $4, $5, 'pending', $6)`,
    [m.id, m.customerId, m.kind, m.amount, m.bankAccount, m.createdAt],
  );
}

/** Marks a movement done or failed at `completedAt`; only one still pending when `onlyPending`. */
export async function markMovement(
  q: Queryable,
  id: string,
  status: 'done' | 'failed',
  completedAt: bigint,
  onlyPending: boolean,
) {
  await q.query(
    `UPDATE bank_movements SET status = $2, completed_at = $3 WHERE id = $1${onlyPending ? " AND status = 'pending'" : ''}`,
    [id, status, completedAt],
  );
}

/** A movement left pending (by a time-out or a crash), as reconciliation finishes it. */
export interface PendingMovement {
  id: string;
  customer_id: string;
  kind: MovementKind;
  amount: bigint;
  bank_account: string;
  created_at: bigint;
}

/** Movements still pending that were created before `createdBefore`. */
export async function pendingMovements(q: Queryable, createdBefore: bigint): Promise<PendingMovement[]> {
  return q.query<PendingMovement>(
    "SELECT id, customer_id, kind, amount, bank_account, created_at FROM bank_movements WHERE status = 'pending' AND created_at < $1",
    [createdBefore],
  );
}
