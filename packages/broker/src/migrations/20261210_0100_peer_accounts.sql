-- P2P (docs/p2p.md): peers frozen for a double spend, and the coin accounts of peers registered before.
-- A peer is frozen (Unix ms) when coins it spent twice are charged back to it: it buys no more coins
-- and is left out of search; other peers see it in GET /parties/:id.
ALTER TABLE parties ADD COLUMN frozen_at bigint;
-- Peers registered before this migration get the coin account a new peer gets at registration
-- (accounts/peer.ts: customer peer:<id>, whose password hash is no hash, so nobody signs in to it).
INSERT INTO customers (id, login, password_hash, created_at)
  SELECT 'peer:' || id, 'peer:' || id, 'none: a peer coin account is not signed in to', created_at
  FROM parties WHERE kind = 'peer'
  ON CONFLICT DO NOTHING;
INSERT INTO ledger_accounts (id, kind, created_at)
  SELECT 'customer:peer:' || id, 'customer', created_at FROM parties WHERE kind = 'peer'
  ON CONFLICT DO NOTHING;
