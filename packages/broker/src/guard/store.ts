/** The SQL of `token_failures`: wrong bearer tokens per client address (tokens.ts, docs/broker.md §4). */
import type { Queryable } from '@netpay/db';

export async function tokenFailures(q: Queryable, source: string) {
  const [row] = await q.query<{ failures: number; first_at: bigint }>(
    'SELECT failures, first_at FROM token_failures WHERE source = $1',
    [source],
  );
  return row;
}

/** One more wrong token from `source`; a window that began at or before `windowStart` starts again. */
export async function countTokenFailure(q: Queryable, source: string, now: number, windowStart: number) {
  await q.query(
    `INSERT INTO token_failures (source, failures, first_at) VALUES ($1, 1, $2::int8)
     ON CONFLICT (source) DO UPDATE SET
       failures = CASE WHEN token_failures.first_at <= $3::int8 THEN 1 ELSE token_failures.failures + 1 END,
       first_at = CASE WHEN token_failures.first_at <= $3::int8 THEN $2::int8 ELSE token_failures.first_at END`,
    [source, BigInt(now), BigInt(windowStart)],
  );
}
