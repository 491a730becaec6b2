-- Server-side wallet charges this vendor kept (its response succeeded), with their payees for the
-- dashboard's shares; and charges it must void but could not reach the broker to (retried each round;
-- 'void_refused' when the broker would not, e.g. the money was paid out meanwhile: the vendor owes it).
CREATE TABLE vendor_wallet_charges (
  charge_id text PRIMARY KEY,
  amount bigint NOT NULL,
  payees text,
  status text NOT NULL CHECK (status IN ('kept', 'void_pending', 'voided', 'void_refused')),
  at bigint NOT NULL
);
CREATE INDEX vendor_wallet_charges_pending ON vendor_wallet_charges (status) WHERE status = 'void_pending';
