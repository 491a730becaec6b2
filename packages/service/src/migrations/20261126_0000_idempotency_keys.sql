-- Idempotency keys of every service: one row per (scope, key) with the request's hash and, once known,
-- the answer (status 0 while the first request still runs).
CREATE TABLE idempotency_keys (
  scope text NOT NULL,
  key text NOT NULL,
  request_hash text NOT NULL,
  status integer NOT NULL,
  response jsonb,
  created_at bigint NOT NULL,
  PRIMARY KEY (scope, key)
);
