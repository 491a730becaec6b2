CREATE TABLE bank_entries (
  account_id text NOT NULL REFERENCES bank_accounts (id),
  seq bigint NOT NULL CHECK (seq > 0),
  kind text NOT NULL CHECK (kind IN ('opening', 'debit', 'credit')),
  amount bigint NOT NULL CHECK (amount <> 0 AND (amount < 0) = (kind = 'debit')),
  balance_after bigint NOT NULL CHECK (balance_after >= 0),
  counterparty text,
  transfer_id text REFERENCES bank_transfers (id),
  created_at bigint NOT NULL,
  PRIMARY KEY (account_id, seq),
  CHECK ((kind = 'opening') = (transfer_id IS NULL))
);
