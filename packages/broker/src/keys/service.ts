import type { Queryable } from '@netpay/db';
import { createSigner, type Ed25519Signer, toBase64url } from '@netpay/protocol';
import { type BrokerContext, newId } from '../context.ts';
import { keysWithLastExpiry } from '../directory/store.ts';

interface KeyRow {
  key_id: string;
  seed: Uint8Array;
  public_key: Uint8Array;
  created_at: bigint;
  retired_at: bigint | null;
}

/**
 * The broker's touchstone-signing keys. One key is current; rotation retires it (no new touchstones) but
 * it stays listed, and valid for verification, until the last chain it signed is past expiry and grace.
 */
export function createKeyService(ctx: BrokerContext) {
  // Cached for a minute, so a rotation made by another broker instance is picked up soon.
  const CACHE_MS = 60_000;
  let current: { keyId: string; signer: Ed25519Signer; loadedAt: number } | null = null;

  async function load(q: Queryable): Promise<{ keyId: string; signer: Ed25519Signer; created: boolean }> {
    const [row] = await q.query<KeyRow>(
      'SELECT * FROM broker_keys WHERE retired_at IS NULL ORDER BY created_at DESC LIMIT 1',
    );
    if (row) return { keyId: row.key_id, signer: createSigner(row.seed), created: false };
    const seed = ctx.random(32);
    const signer = createSigner(seed);
    const keyId = newId(ctx, 'key');
    await q.query('INSERT INTO broker_keys (key_id, seed, public_key, created_at) VALUES ($1, $2, $3, $4)', [
      keyId,
      seed,
      signer.publicKey,
      BigInt(ctx.clock()),
    ]);
    return { keyId, signer, created: true };
  }

  /** The signing key; `q` must be the caller's transaction when called inside one. */
  async function currentKey(q: Queryable = ctx.db): Promise<{ keyId: string; signer: Ed25519Signer }> {
    if (current && ctx.clock() - current.loadedAt <= CACHE_MS) return current;
    const key = await load(q);
    // A key created inside the caller's transaction is not cached: that transaction may still roll back.
    current = key.created ? null : { keyId: key.keyId, signer: key.signer, loadedAt: ctx.clock() };
    return key;
  }

  async function rotate() {
    await ctx.db.query('UPDATE broker_keys SET retired_at = $1 WHERE retired_at IS NULL', [
      BigInt(ctx.clock()),
    ]);
    current = null;
    return currentKey();
  }

  /** Keys vendors should accept: the current one and retired ones whose chains may still be redeemed. */
  async function list() {
    const graceMs = BigInt(ctx.config.redemptionGraceSeconds * 1000);
    const rows = await keysWithLastExpiry<KeyRow>(ctx.db);
    const now = BigInt(ctx.clock());
    return rows
      .filter((r) => r.retired_at === null || (r.last_expiry !== null && r.last_expiry + graceMs > now))
      .map((r) => ({
        brokerId: ctx.config.brokerId,
        keyId: r.key_id,
        publicKey: toBase64url(r.public_key),
        createdAt: new Date(Number(r.created_at)).toISOString(),
        retiredAt: r.retired_at === null ? null : new Date(Number(r.retired_at)).toISOString(),
      }));
  }

  async function publicKey(keyId: string): Promise<Uint8Array | undefined> {
    const [row] = await ctx.db.query<{ public_key: Uint8Array }>(
      'SELECT public_key FROM broker_keys WHERE key_id = $1',
      [keyId],
    );
    return row?.public_key;
  }

  return { currentKey, rotate, list, publicKey };
}

export type KeyService = ReturnType<typeof createKeyService>;
