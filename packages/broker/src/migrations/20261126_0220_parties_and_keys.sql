CREATE TABLE parties (
  id text PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('vendor', 'peer')),
  name text NOT NULL,
  public_key bytea NOT NULL,
  url text,
  bank_account text,
  created_at bigint NOT NULL
);
CREATE TABLE broker_keys (
  key_id text PRIMARY KEY,
  seed bytea NOT NULL,
  public_key bytea NOT NULL,
  created_at bigint NOT NULL,
  retired_at bigint
);
