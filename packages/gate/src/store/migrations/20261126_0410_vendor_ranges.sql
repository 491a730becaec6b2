-- Ranges of coins accepted during earlier holdings of a chain (before it was handed on), waiting to be
-- redeemed; the current holding's range lives in vendor_chains.
CREATE TABLE vendor_ranges (
  chain_id text NOT NULL,
  from_index integer NOT NULL,
  from_payword text NOT NULL,
  to_index integer NOT NULL,
  to_payword text NOT NULL,
  redeemed boolean NOT NULL DEFAULT false,
  PRIMARY KEY (chain_id, from_index),
  CHECK (to_index > from_index)
);
