-- Invitations to register a vendor or peer (POST /parties) where registration is not open: made by an
-- operator, used once, stored by the SHA-256 of the token only.
CREATE TABLE party_invitations (
  token_hash bytea PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('vendor', 'peer')),
  party_id text,
  created_at bigint NOT NULL,
  expires_at bigint NOT NULL,
  used_by text,
  used_at bigint
);
