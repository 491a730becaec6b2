-- Every claim sent to the broker, written before it is sent: a claim whose answer was lost is resent
-- unchanged (the broker replays its answer), and only a credited claim counts as redeemed.
CREATE TABLE vendor_claims (
  claim_id text PRIMARY KEY,
  chain_id text NOT NULL,
  from_index integer NOT NULL,
  to_index integer NOT NULL,
  earlier boolean NOT NULL,
  claim jsonb NOT NULL,
  status text NOT NULL CHECK (status IN ('sent', 'credited', 'refused')),
  code text,
  amount bigint,
  created_at bigint NOT NULL
);
CREATE INDEX vendor_claims_sent ON vendor_claims (status, chain_id);
