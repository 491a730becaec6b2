-- Logins are stored normalised: NFKC, lower case (packages/broker/src/accounts/login.ts, docs/broker.md
-- §6.2). Logins registered before were only trimmed and lower-cased, so a full-width or otherwise
-- compatibility-spelled login is rewritten to its normal form, unless that form is taken: the first
-- account (the one already in normal form, else the oldest id) keeps it, and any look-alike of it is left
-- as it was for the operator to resolve (docs/broker.md §16). Peers' coin accounts (peer:<id>) are no
-- logins. PostgreSQL's lower() folds ASCII only in the C locale; login.ts lower-cased the rest at
-- registration already.
WITH normal AS (
  SELECT id, login, lower(normalize(login, NFKC)) AS norm
  FROM customers
  WHERE login NOT LIKE 'peer:%'
), ranked AS (
  SELECT id, login, norm,
         row_number() OVER (PARTITION BY norm ORDER BY (login = norm) DESC, id) AS rank
  FROM normal
)
UPDATE customers c
SET login = r.norm
FROM ranked r
WHERE c.id = r.id AND r.rank = 1 AND c.login <> r.norm;
