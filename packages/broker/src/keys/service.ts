/**
 * The broker's touchstone-signing keys. One key is current; rotation retires it (no new touchstones) but
 * it stays listed, and valid for verification, until the last chain it signed is past expiry and grace.
 *
 * Plain functions over KeyDeps; createKeyService binds them to one cache. Their SQL is in store.ts.
 */
import type { Queryable } from '@netpay/db';
import { createSigner, type Ed25519Signer, toBase64url } from '@netpay/protocol';
import { type BrokerBasics, type BrokerContext, newId } from '../context.ts';
import { lastExpiryByKey } from '../directory/store.ts';
import * as store from './store.ts';

/** Cached for a minute, so a rotation made by another broker instance is picked up soon. */
const CACHE_MS = 60_000;

/** The current key as last loaded, and when (Unix ms); null when it must be read again. */
export interface KeyCache {
  current: { keyId: string; signer: Ed25519Signer; loadedAt: number } | null;
}

/** What the keys run on. */
export interface KeyDeps extends BrokerBasics {
  // It reads from config: the broker's id, and the redemption grace that keeps a retired key listed.
  readonly cache: KeyCache;
}

/** The current key, made (and stored in `q`) when there is none. */
async function load(
  d: Pick<KeyDeps, 'clock' | 'random'>,
  q: Queryable,
): Promise<{ keyId: string; signer: Ed25519Signer; created: boolean }> {
  const row = await store.currentKeyRow(q);
  if (row) return { keyId: row.key_id, signer: createSigner(row.seed), created: false };
  const seed = d.random(32);
  const signer = createSigner(seed);
  const keyId = newId(d, 'key');
  await store.insertKey(q, { keyId, seed, publicKey: signer.publicKey, createdAt: BigInt(d.clock()) });
  return { keyId, signer, created: true };
}

/** The signing key; `q` must be the caller's transaction when called inside one. */
export async function currentKey(
  d: Pick<KeyDeps, 'db' | 'clock' | 'random' | 'cache'>,
  q: Queryable = d.db,
): Promise<{ keyId: string; signer: Ed25519Signer }> {
  const { cache } = d;
  if (cache.current && d.clock() - cache.current.loadedAt <= CACHE_MS) return cache.current;
  const key = await load(d, q);
  // A key created inside the caller's transaction is not cached: that transaction may still roll back.
  cache.current = key.created ? null : { keyId: key.keyId, signer: key.signer, loadedAt: d.clock() };
  return key;
}

/** Retires the current key and makes a new one. */
export async function rotate(d: Pick<KeyDeps, 'db' | 'clock' | 'random' | 'cache'>) {
  await store.retireKeys(d.db, BigInt(d.clock()));
  d.cache.current = null;
  return currentKey(d);
}

/** Keys vendors should accept: the current one and retired ones whose chains may still be redeemed. */
export async function list(d: Pick<KeyDeps, 'db' | 'clock' | 'config'>) {
  const graceMs = BigInt(d.config.redemptionGraceSeconds * 1000);
  const keys = await store.allKeys(d.db);
  const lastExpiry = await lastExpiryByKey(d.db);
  const rows = keys.map((k) => ({ ...k, last_expiry: lastExpiry.get(k.key_id) ?? null }));
  const now = BigInt(d.clock());
  return rows
    .filter((r) => r.retired_at === null || (r.last_expiry !== null && r.last_expiry + graceMs > now))
    .map((r) => ({
      brokerId: d.config.brokerId,
      keyId: r.key_id,
      publicKey: toBase64url(r.public_key),
      createdAt: new Date(Number(r.created_at)).toISOString(),
      retiredAt: r.retired_at === null ? null : new Date(Number(r.retired_at)).toISOString(),
    }));
}

/** The key functions bound to their dependencies and one cache: what issuance, refunds and the routes call. */
export function createKeyService(ctx: Pick<BrokerContext, 'db' | 'config' | 'clock' | 'random'>) {
  const { db, config, clock, random } = ctx;
  const d: KeyDeps = { db, config, clock, random, cache: { current: null } };
  return {
    currentKey: (q?: Queryable) => currentKey(d, q),
    rotate: () => rotate(d),
    list: () => list(d),
    publicKey: (keyId: string) => store.publicKeyOf(db, keyId),
  };
}

export type KeyService = ReturnType<typeof createKeyService>;
