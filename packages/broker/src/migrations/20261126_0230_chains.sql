CREATE TABLE chains (
  chain_id text PRIMARY KEY,
  customer_id text NOT NULL REFERENCES customers (id),
  key_id text NOT NULL REFERENCES broker_keys (key_id),
  n integer NOT NULL CHECK (n > 0),
  coin_value bigint NOT NULL CHECK (coin_value > 0),
  touchstone jsonb NOT NULL,
  expires_at bigint NOT NULL,
  server_seed bytea,
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'refunded', 'closed')),
  holder text,
  holder_since bigint,
  backup_index integer NOT NULL DEFAULT 0,
  backup_message jsonb,
  created_at bigint NOT NULL
);
CREATE INDEX chains_customer ON chains (customer_id, created_at);
CREATE INDEX chains_expiry ON chains (status, expires_at);
-- Redeemed (and refunded) ranges (from_index, to_index] of each chain; they must never overlap.
CREATE TABLE redemptions (
  claim_id text PRIMARY KEY,
  chain_id text NOT NULL REFERENCES chains (chain_id),
  party_id text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('redemption', 'refund')),
  from_index integer NOT NULL,
  to_index integer NOT NULL,
  to_payword text,
  amount bigint NOT NULL,
  fee bigint NOT NULL,
  claim jsonb,
  created_at bigint NOT NULL,
  CHECK (to_index > from_index AND from_index >= 0)
);
CREATE INDEX redemptions_chain ON redemptions (chain_id, to_index);
CREATE INDEX redemptions_party ON redemptions (party_id, created_at);
CREATE TABLE fraud_evidence (
  id text PRIMARY KEY,
  chain_id text NOT NULL,
  party_id text NOT NULL,
  reason text NOT NULL,
  claim jsonb NOT NULL,
  conflicts_with text,
  created_at bigint NOT NULL
);
CREATE INDEX fraud_chain ON fraud_evidence (chain_id);
