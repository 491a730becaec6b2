CREATE TABLE payout_runs (
  id text PRIMARY KEY,
  started_at bigint NOT NULL,
  finished_at bigint,
  payouts integer NOT NULL DEFAULT 0,
  total bigint NOT NULL DEFAULT 0
);
CREATE TABLE payouts (
  id text PRIMARY KEY,
  run_id text NOT NULL REFERENCES payout_runs (id),
  party_id text NOT NULL,
  bank_account text NOT NULL,
  amount bigint NOT NULL CHECK (amount > 0),
  status text NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at bigint NOT NULL,
  bank_transfer_id text,
  last_error text,
  created_at bigint NOT NULL,
  completed_at bigint
);
CREATE INDEX payouts_due ON payouts (status, next_attempt_at);
-- Bank movements the broker starts (loads, unloads), recorded before the call so a crash or a
-- time-out is resolved by asking the bank, never by guessing.
CREATE TABLE bank_movements (
  id text PRIMARY KEY,
  customer_id text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('load', 'unload')),
  amount bigint NOT NULL CHECK (amount > 0),
  bank_account text NOT NULL,
  status text NOT NULL CHECK (status IN ('pending', 'done', 'failed')),
  created_at bigint NOT NULL,
  completed_at bigint
);
