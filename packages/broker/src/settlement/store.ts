/**
 * The SQL of settlement: the payout_runs and payouts tables (migration 0240), and the one reading of
 * vendors' balances due (parties joined to their ledger accounts, locked so a payout and its transfer are
 * written against the balance they pay). Nothing else in the broker writes these tables; each function
 * runs on the Queryable it is given. Times are Unix milliseconds as bigint, as the tables store them.
 */
import type { Queryable } from '@netpay/db';

/** A payout as it is sent to the bank. */
export interface PayoutRow {
  id: string;
  party_id: string;
  bank_account: string;
  amount: bigint;
  attempts: number;
}

export async function insertRun(q: Queryable, runId: string, startedAt: bigint) {
  await q.query('INSERT INTO payout_runs (id, started_at) VALUES ($1, $2)', [runId, startedAt]);
}

/**
 * Every vendor with a credited balance and a bank account, its ledger account locked, in account order.
 * `withoutPeers`: peers are left out (tokens mode, docs/p2p.md §4: their earnings are tokens, not money).
 */
export async function lockBalancesDue(q: Queryable, withoutPeers: boolean) {
  return q.query<{ party_id: string; balance: bigint; bank_account: string }>(
    `SELECT p.id AS party_id, a.balance, p.bank_account FROM parties p JOIN ledger_accounts a ON a.id = 'vendor:' || p.id
         WHERE a.balance > 0 AND p.bank_account IS NOT NULL AND NOT ($1::boolean AND p.kind = 'peer')
         ORDER BY a.id FOR UPDATE OF a`,
    [withoutPeers],
  );
}

/** A new payout, pending and due at once (`now`). */
export async function insertPayout(
  q: Queryable,
  p: { id: string; runId: string; partyId: string; bankAccount: string; amount: bigint; now: bigint },
) {
  await q.query(
    `INSERT INTO payouts (id, run_id, party_id, bank_account, amount, status, next_attempt_at, created_at)
         VALUES ($1, $2, $3, $4, $5, 'pending', $6, $6)`,
    [p.id, p.runId, p.partyId, p.bankAccount, p.amount, p.now],
  );
}

export async function setRunTotals(q: Queryable, runId: string, payouts: number, total: bigint) {
  await q.query('UPDATE payout_runs SET payouts = $2, total = $3 WHERE id = $1', [runId, payouts, total]);
}

export async function finishRun(q: Queryable, runId: string, finishedAt: bigint) {
  await q.query('UPDATE payout_runs SET finished_at = $2 WHERE id = $1', [runId, finishedAt]);
}

/** The most recent runs first, at most `limit`. */
export async function recentRuns(q: Queryable, limit: number) {
  return q.query<{
    id: string;
    started_at: bigint;
    finished_at: bigint | null;
    payouts: number;
    total: bigint;
  }>('SELECT * FROM payout_runs ORDER BY started_at DESC LIMIT $1', [limit]);
}

/** Locks the next pending payout due by `now` with attempts left; rows other workers hold are skipped. */
export async function lockDuePayout(q: Queryable, now: bigint, maxAttempts: number) {
  const [p] = await q.query<PayoutRow & { next_attempt_at: bigint }>(
    `SELECT id, party_id, bank_account, amount, attempts, next_attempt_at FROM payouts
         WHERE status = 'pending' AND next_attempt_at <= $1 AND attempts < $2
         ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED`,
    [now, maxAttempts],
  );
  return p;
}

/** Counts an attempt and sets when the next one is due. */
export async function countAttempt(q: Queryable, id: string, nextAttemptAt: bigint) {
  await q.query('UPDATE payouts SET attempts = attempts + 1, next_attempt_at = $2 WHERE id = $1', [
    id,
    nextAttemptAt,
  ]);
}

export async function markSent(q: Queryable, id: string, bankTransferId: string, completedAt: bigint) {
  await q.query(
    "UPDATE payouts SET status = 'sent', bank_transfer_id = $2, completed_at = $3 WHERE id = $1",
    [id, bankTransferId, completedAt],
  );
}

/** Marks a payout the bank refused as failed, if it is still pending. */
export async function markFailed(q: Queryable, id: string, error: string, completedAt: bigint) {
  await q.query(
    "UPDATE payouts SET status = 'failed', last_error = $2, completed_at = $3 WHERE id = $1 AND status = 'pending'",
    [id, error, completedAt],
  );
}

/** Keeps the error of an attempt whose outcome is unknown (the payout stays pending, to be sent again). */
export async function recordError(q: Queryable, id: string, error: string) {
  await q.query('UPDATE payouts SET last_error = $2 WHERE id = $1', [id, error]);
}

/** Most payouts a party's statement lists (the newest); its totals cover them all. */
export const STATEMENT_PAYOUTS = 100;

/**
 * A party's newest payouts, newest first, for its statement (`STATEMENT_PAYOUTS` at most). The redemption
 * feature's statement reads them through here.
 */
export async function payoutsOf(q: Queryable, partyId: string) {
  return q.query<{
    id: string;
    amount: bigint;
    status: string;
    created_at: bigint;
    completed_at: bigint | null;
  }>(
    'SELECT id, amount, status, created_at, completed_at FROM payouts WHERE party_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2',
    [partyId, STATEMENT_PAYOUTS],
  );
}

/** What was paid out to a party in all (`sent`) and what is on its way (`pending`), in minor units. */
export async function payoutTotals(q: Queryable, partyId: string) {
  const [row] = await q.query<{ sent: bigint; pending: bigint }>(
    `SELECT COALESCE(sum(amount) FILTER (WHERE status = 'sent'), 0)::int8 AS sent,
            COALESCE(sum(amount) FILTER (WHERE status = 'pending'), 0)::int8 AS pending
       FROM payouts WHERE party_id = $1`,
    [partyId],
  );
  return { sent: row?.sent ?? 0n, pending: row?.pending ?? 0n };
}
