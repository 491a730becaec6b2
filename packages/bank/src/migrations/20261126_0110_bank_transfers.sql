CREATE TABLE bank_transfers (
  id text PRIMARY KEY,
  from_account text NOT NULL REFERENCES bank_accounts (id),
  to_account text NOT NULL REFERENCES bank_accounts (id),
  amount bigint NOT NULL CHECK (amount > 0),
  reference text,
  idempotency_key text NOT NULL,
  created_at bigint NOT NULL,
  CHECK (from_account <> to_account),
  UNIQUE (from_account, idempotency_key)
);
