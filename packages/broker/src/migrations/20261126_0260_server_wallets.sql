-- Server-side wallets: a customer lets one vendor debit its broker-held balance, up to a cap per day
-- or in total. Each browser that signed in there holds a bearer token (only its hash is kept here);
-- charges are also signed by the vendor, so a token is useless to anyone else.
CREATE TABLE wallet_grants (
  id text PRIMARY KEY,
  customer_id text NOT NULL REFERENCES customers (id),
  vendor_id text NOT NULL REFERENCES parties (id),
  cap bigint NOT NULL CHECK (cap >= 0),
  period text NOT NULL CHECK (period IN ('day', 'total')),
  created_at bigint NOT NULL,
  revoked_at bigint,
  UNIQUE (customer_id, vendor_id)
);
-- One-time codes of the sign-in redirect, traded by the vendor for a token.
CREATE TABLE wallet_codes (
  code_hash text PRIMARY KEY,
  grant_id text NOT NULL REFERENCES wallet_grants (id),
  expires_at bigint NOT NULL
);
CREATE TABLE wallet_tokens (
  token_hash text PRIMARY KEY,
  grant_id text NOT NULL REFERENCES wallet_grants (id),
  created_at bigint NOT NULL
);
CREATE INDEX wallet_tokens_grant ON wallet_tokens (grant_id);
CREATE TABLE wallet_charges (
  id text PRIMARY KEY,
  grant_id text NOT NULL REFERENCES wallet_grants (id),
  amount bigint NOT NULL CHECK (amount > 0),
  fee bigint NOT NULL CHECK (fee >= 0),
  resource text,
  -- How many payees the charge was split among (its transfers are <id>/p0 … <id>/p(n-1)).
  payees integer NOT NULL CHECK (payees >= 1),
  status text NOT NULL CHECK (status IN ('charged', 'voided')),
  created_at bigint NOT NULL,
  voided_at bigint
);
CREATE INDEX wallet_charges_grant ON wallet_charges (grant_id, created_at);
-- Messages written in the same millisecond keep their order (the newest code is the last).
ALTER TABLE outbox ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;
