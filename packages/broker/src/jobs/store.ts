/**
 * The SQL of the job_leases table (migration 20261208_0100): one row per scheduled job, claimed by one
 * broker process at a time. Nothing else touches it. Times are Unix milliseconds as bigint.
 */
import type { Queryable } from '@netpay/db';

/**
 * Claims job `name` for `holder` until `leaseUntil` when it is due (`next_at` ≤ `now`) and nobody holds
 * it; true when this holder got it. The row is made on first use, due at once. Two processes claiming at
 * once meet on the row's lock: the second sees the first's lease and gets nothing.
 */
export async function claimJob(
  q: Queryable,
  c: { name: string; holder: string; now: bigint; leaseUntil: bigint },
): Promise<boolean> {
  const rows = await q.query(
    `INSERT INTO job_leases (name, holder, lease_until, next_at) VALUES ($1, $2, $4, $3)
     ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, lease_until = EXCLUDED.lease_until
       WHERE job_leases.next_at <= $3 AND job_leases.lease_until <= $3
     RETURNING 1 AS claimed`,
    [c.name, c.holder, c.now, c.leaseUntil],
  );
  return rows.length > 0;
}

/** Ends `holder`'s lease on job `name` and sets when it is due again (nothing if another holds it now). */
export async function releaseJob(q: Queryable, r: { name: string; holder: string; nextAt: bigint }) {
  await q.query('UPDATE job_leases SET lease_until = 0, next_at = $3 WHERE name = $1 AND holder = $2', [
    r.name,
    r.holder,
    r.nextAt,
  ]);
}

/** Every job's row (the operator's view and tests). */
export async function allJobs(q: Queryable) {
  return q.query<{ name: string; holder: string; lease_until: bigint; next_at: bigint }>(
    'SELECT name, holder, lease_until, next_at FROM job_leases ORDER BY name',
  );
}
