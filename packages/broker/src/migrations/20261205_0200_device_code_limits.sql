-- Device codes: how many were sent to a device and when the last one went (resends back off and are
-- capped), and its wrong codes over all of its codes (a resend does not reset them).
ALTER TABLE devices ADD COLUMN codes_sent integer NOT NULL DEFAULT 1;
ALTER TABLE devices ADD COLUMN last_code_at bigint;
ALTER TABLE devices ADD COLUMN failures integer NOT NULL DEFAULT 0;
