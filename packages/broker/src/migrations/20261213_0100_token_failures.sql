-- Wrong bearer tokens (sessions, the admin token) per client address (an IPv6 /64) since first_at: too
-- many in a window refuse every bearer token from there until the window is over (docs/broker.md §4).
-- Rows are small and per address; a window that is over starts again from one on the next wrong token.
CREATE TABLE token_failures (
  source text PRIMARY KEY,
  failures integer NOT NULL,
  first_at bigint NOT NULL
);
