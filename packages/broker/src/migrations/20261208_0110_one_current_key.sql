-- At most one current (not retired) signing key, so broker processes starting together over one database
-- cannot each make their own: the second insert fails and that process reads the first's key. Keys made
-- by such a race before this migration are retired but the newest (they stay listed while their chains run).
UPDATE broker_keys SET retired_at = created_at
  WHERE retired_at IS NULL
    AND key_id <> (SELECT key_id FROM broker_keys WHERE retired_at IS NULL ORDER BY created_at DESC, key_id LIMIT 1);
CREATE UNIQUE INDEX broker_keys_one_current ON broker_keys ((retired_at IS NULL)) WHERE retired_at IS NULL;
