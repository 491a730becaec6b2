/**
 * The SQL of the broker_keys table (migration 0220): the broker's touchstone-signing keys. Nothing else
 * touches it; the last expiry of each key's chains comes from the directory's store (lastExpiryByKey).
 * Times are Unix milliseconds as bigint.
 */
import type { Queryable } from '@netpay/db';

export interface KeyRow {
  key_id: string;
  seed: Uint8Array;
  public_key: Uint8Array;
  created_at: bigint;
  retired_at: bigint | null;
}

/** The newest key not retired, if any. */
export async function currentKeyRow(q: Queryable): Promise<KeyRow | undefined> {
  const [row] = await q.query<KeyRow>(
    'SELECT * FROM broker_keys WHERE retired_at IS NULL ORDER BY created_at DESC LIMIT 1',
  );
  return row;
}

/**
 * Stores a new current key; false when another is current already (the unique index of migration
 * 20261208_0110: another broker process made one first).
 */
export async function insertKey(
  q: Queryable,
  k: { keyId: string; seed: Uint8Array; publicKey: Uint8Array; createdAt: bigint },
): Promise<boolean> {
  const rows = await q.query(
    `INSERT INTO broker_keys (key_id, seed, public_key, created_at) VALUES ($1, $2, $3, $4)
     ON CONFLICT DO NOTHING RETURNING 1 AS made`,
    [k.keyId, k.seed, k.publicKey, k.createdAt],
  );
  return rows.length > 0;
}

/** Retires every key still current (a rotation). */
export async function retireKeys(q: Queryable, at: bigint) {
  await q.query('UPDATE broker_keys SET retired_at = $1 WHERE retired_at IS NULL', [at]);
}

export async function publicKeyOf(q: Queryable, keyId: string): Promise<Uint8Array | undefined> {
  const [row] = await q.query<{ public_key: Uint8Array }>(
    'SELECT public_key FROM broker_keys WHERE key_id = $1',
    [keyId],
  );
  return row?.public_key;
}

/** Every broker key, oldest first. */
export async function allKeys(q: Queryable): Promise<KeyRow[]> {
  return q.query<KeyRow>('SELECT * FROM broker_keys ORDER BY created_at');
}
