-- P2P (docs/p2p.md §3): the payer's signed index at the holding's latest accepted point (the last payment's
-- `paidIndex`), and the same for the range a holding leaves behind, so each claim on it carries it as
-- `endIndex`: the evidence that the chain's owner paid this peer that far.
ALTER TABLE vendor_chains ADD COLUMN end_message jsonb;
ALTER TABLE vendor_ranges ADD COLUMN end_message jsonb;
