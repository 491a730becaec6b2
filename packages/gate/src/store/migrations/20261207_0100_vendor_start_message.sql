-- P2P (docs/p2p.md §3): a holding that began offline from the payer's own signed index keeps that index,
-- and so does the range it leaves behind, so each claim on it carries it as `startIndex`.
ALTER TABLE vendor_chains ADD COLUMN start_message jsonb;
ALTER TABLE vendor_ranges ADD COLUMN start_message jsonb;
