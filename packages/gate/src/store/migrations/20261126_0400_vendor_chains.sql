-- Per chain this vendor holds or held: where its holding started, the last coin accepted, how far it
-- has redeemed. accepted_index only grows (compare-and-set), so instances over one database agree.
CREATE TABLE vendor_chains (
  chain_id text PRIMARY KEY,
  touchstone jsonb NOT NULL,
  start_index integer NOT NULL,
  start_payword text NOT NULL,
  accepted_index integer NOT NULL,
  accepted_payword text NOT NULL,
  redeemed_index integer NOT NULL,
  redeemed_payword text NOT NULL,
  status text NOT NULL CHECK (status IN ('held', 'handed')),
  updated_at bigint NOT NULL,
  CHECK (accepted_index >= start_index AND redeemed_index <= accepted_index)
);
CREATE INDEX vendor_chains_unredeemed ON vendor_chains (redeemed_index, accepted_index);
-- The answer given for each accepted payment, so a retry with the same paywords gets it again.
CREATE TABLE vendor_receipts (
  chain_id text NOT NULL,
  chain_index integer NOT NULL,
  receipt jsonb NOT NULL,
  created_at bigint NOT NULL,
  PRIMARY KEY (chain_id, chain_index)
);
