-- The last index of the current holding the broker confirmed as a backup: if the chain is taken over
-- while this vendor is away, its holding ends there, and only coins up to it are its to redeem.
ALTER TABLE vendor_chains ADD COLUMN backup_index integer;
ALTER TABLE vendor_chains ADD COLUMN backup_payword text;
