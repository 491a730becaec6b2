-- A retry is recognised only for a chain's latest payment, so only that answer is kept: on the chain's
-- row, written by the same statement that advances it (one statement per group commit).
ALTER TABLE vendor_chains ADD COLUMN last_receipt text;
UPDATE vendor_chains v SET last_receipt = r.receipt::text FROM vendor_receipts r
  WHERE r.chain_id = v.chain_id AND r.chain_index = v.accepted_index;
DROP TABLE vendor_receipts;
-- Payments whose price names payees (multi-party): where their coins start and end and the payees'
-- shares, so redemption claims each run of same-payee payments with those shares.
CREATE TABLE vendor_payee_payments (
  chain_id text NOT NULL,
  from_index integer NOT NULL,
  from_payword text NOT NULL,
  to_index integer NOT NULL,
  to_payword text NOT NULL,
  payees text NOT NULL,
  PRIMARY KEY (chain_id, to_index)
);
