CREATE TABLE bank_settings (
  key text PRIMARY KEY,
  value text NOT NULL
);
CREATE TABLE bank_accounts (
  id text PRIMARY KEY,
  name text NOT NULL,
  balance bigint NOT NULL CHECK (balance >= 0),
  token_hash text NOT NULL UNIQUE,
  last_seq bigint NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
  created_at bigint NOT NULL
);
