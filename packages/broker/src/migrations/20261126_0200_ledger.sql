-- Double-entry ledger. balance = sum(credits) - sum(debits), so all balances sum to zero.
-- Liabilities (customers, vendors, coins outstanding) are positive; the broker's cash at the bank is
-- negative. Customer and vendor balances can never go below zero.
CREATE TABLE ledger_accounts (
  id text PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('customer', 'vendor', 'coins', 'fees', 'bank', 'fraud')),
  balance bigint NOT NULL DEFAULT 0,
  created_at bigint NOT NULL,
  CHECK (kind NOT IN ('customer', 'vendor', 'coins') OR balance >= 0)
);
CREATE TABLE ledger_transfers (
  id text PRIMARY KEY,
  seq bigint GENERATED ALWAYS AS IDENTITY,
  debit_account text NOT NULL REFERENCES ledger_accounts (id),
  credit_account text NOT NULL REFERENCES ledger_accounts (id),
  amount bigint NOT NULL CHECK (amount > 0),
  kind text NOT NULL,
  ref text,
  created_at bigint NOT NULL,
  CHECK (debit_account <> credit_account)
);
CREATE INDEX ledger_transfers_debit ON ledger_transfers (debit_account, created_at);
CREATE INDEX ledger_transfers_credit ON ledger_transfers (credit_account, created_at);
INSERT INTO ledger_accounts (id, kind, created_at) VALUES
  ('coins_outstanding', 'coins', 0), ('fees', 'fees', 0), ('bank', 'bank', 0), ('fraud', 'fraud', 0);
