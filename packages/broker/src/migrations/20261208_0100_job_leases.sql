-- Scheduled jobs (settlement, expiry, pending refunds, reconciliation) shared by every broker process over
-- one database: a job runs when its row says it is due and no process holds it (docs/operations.md §2).
-- holder: the process running it now; lease_until: until when (0: nobody); next_at: when it is due again.
CREATE TABLE job_leases (
  name text PRIMARY KEY,
  holder text NOT NULL,
  lease_until bigint NOT NULL,
  next_at bigint NOT NULL
);
