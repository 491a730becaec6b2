CREATE TABLE customers (
  id text PRIMARY KEY,
  login text NOT NULL UNIQUE,
  password_hash text NOT NULL,
  totp_secret text,
  totp_pending text,
  created_at bigint NOT NULL
);
CREATE TABLE devices (
  id text PRIMARY KEY,
  customer_id text NOT NULL REFERENCES customers (id),
  name text NOT NULL,
  code_hash text,
  code_expires_at bigint,
  attempts integer NOT NULL DEFAULT 0,
  verified_at bigint,
  created_at bigint NOT NULL
);
CREATE INDEX devices_customer ON devices (customer_id);
CREATE TABLE sessions (
  token_hash text PRIMARY KEY,
  customer_id text NOT NULL REFERENCES customers (id),
  device_id text NOT NULL REFERENCES devices (id),
  expires_at bigint NOT NULL,
  created_at bigint NOT NULL
);
CREATE TABLE outbox (
  id text PRIMARY KEY,
  recipient text NOT NULL,
  kind text NOT NULL,
  body text NOT NULL,
  created_at bigint NOT NULL
);
CREATE INDEX outbox_recipient ON outbox (recipient, created_at);
