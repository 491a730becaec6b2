-- Sign-in attempts per login (known or not) since first_at that have not succeeded yet; too many in
-- a window refuse the login until the window is over. A whole successful sign-in clears the row.
CREATE TABLE login_failures (
  login text PRIMARY KEY,
  failures integer NOT NULL,
  first_at bigint NOT NULL
);
