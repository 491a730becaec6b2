-- A holding is a lease (docs/protocol.md §8.4): the holder accepts coins only until lease_until (Unix
-- ms, broker clock); backups and re-claims renew it. The broker moves a chain away from its holder
-- only by the holder's signed hand-over answer, or after the lease has run out.
ALTER TABLE chains ADD COLUMN lease_until bigint;
-- A refund asked for and not yet done: the customer's stated spent index; the lease is not renewed
-- from then on, and the refund completes on the holder's hand-over answer or when the lease is over.
ALTER TABLE chains ADD COLUMN refund_requested_at bigint;
ALTER TABLE chains ADD COLUMN refund_stated_index integer;
-- A holding that ended without the holder's signed final index (its lease ran out: take-over, or a
-- refund the holder did not answer) has a soft end: coins it accepted under its lease beyond end_index
-- stay redeemable by it, and any overlap they make is charged to the chain's owner.
ALTER TABLE chain_holdings ADD COLUMN soft_end boolean NOT NULL DEFAULT false;
-- Coins credited twice (two vendors, or a vendor and the refund) because the owner spent them twice:
-- charged back to the owner's account, the shortfall to the broker's fraud (loss) account.
CREATE TABLE charge_backs (
  id text PRIMARY KEY,
  chain_id text NOT NULL REFERENCES chains (chain_id),
  customer_id text NOT NULL,
  claim_id text NOT NULL,
  coins integer NOT NULL CHECK (coins > 0),
  amount bigint NOT NULL CHECK (amount > 0),
  from_customer bigint NOT NULL CHECK (from_customer >= 0),
  from_broker bigint NOT NULL CHECK (from_broker >= 0),
  created_at bigint NOT NULL
);
CREATE INDEX charge_backs_chain ON charge_backs (chain_id);
CREATE INDEX chains_refunding ON chains (refund_requested_at) WHERE refund_requested_at IS NOT NULL;
