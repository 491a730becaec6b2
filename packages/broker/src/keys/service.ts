/**
 * The broker's touchstone-signing keys. One key is current; rotation retires it (no new touchstones) but
 * it stays listed, and valid for verification, until the last chain it signed is past expiry and grace.
 *
 * Several broker processes share one database (docs/operations.md §2), so which key is current is read
 * from it every time (one indexed row, in the caller's transaction): a rotation made by any process is
 * used by all at once, and a process never signs with a key another one retired. Only the signer derived
 * from a stored key is kept in memory, by key id: a stored key never changes.
 *
 * Plain functions over KeyDeps; createKeyService binds them to one signer cache. Their SQL is in store.ts.
 */
import type { Queryable } from '@netpay/db';
import { createSigner, type Ed25519Signer, toBase64url } from '@netpay/protocol';
import { type BrokerBasics, type BrokerContext, newId } from '../context.ts';
import { lastExpiryByKey } from '../directory/store.ts';
import * as store from './store.ts';

/** Signers of stored keys by key id (derived once per key; a few keys are ever live at once). */
export type SignerCache = Map<string, Ed25519Signer>;
const MAX_SIGNERS = 16;

/** What the keys run on. */
export interface KeyDeps extends BrokerBasics {
  // It reads from config: the broker's id, and the redemption grace that keeps a retired key listed.
  readonly signers: SignerCache;
}

function signerOf(d: Pick<KeyDeps, 'signers'>, keyId: string, seed: Uint8Array): Ed25519Signer {
  let signer = d.signers.get(keyId);
  if (!signer) {
    if (d.signers.size >= MAX_SIGNERS) d.signers.clear();
    signer = createSigner(seed);
    d.signers.set(keyId, signer);
  }
  return signer;
}

/** Stores a new current key; false when another process made one first (its key is then current). */
async function makeKey(d: Pick<KeyDeps, 'clock' | 'random'>, q: Queryable): Promise<boolean> {
  const seed = d.random(32);
  const publicKey = createSigner(seed).publicKey;
  return store.insertKey(q, { keyId: newId(d, 'key'), seed, publicKey, createdAt: BigInt(d.clock()) });
}

/** The signing key, made (and stored in `q`) when there is none; `q` must be the caller's transaction. */
export async function currentKey(
  d: Pick<KeyDeps, 'db' | 'clock' | 'random' | 'signers'>,
  q: Queryable = d.db,
): Promise<{ keyId: string; signer: Ed25519Signer }> {
  let row = await store.currentKeyRow(q);
  if (!row) {
    await makeKey(d, q);
    row = await store.currentKeyRow(q);
  }
  if (!row) throw new Error('broker keys: no current key after making one');
  return { keyId: row.key_id, signer: signerOf(d, row.key_id, row.seed) };
}

/**
 * Retires the current key and makes a new one, in one transaction. Two rotations at once make one new key
 * between them: the later one's insert finds the earlier one's key current (the unique index) and inserts
 * nothing, and both answer that key.
 */
export async function rotate(d: Pick<KeyDeps, 'db' | 'clock' | 'random' | 'signers'>) {
  return d.db.transaction(async (tx) => {
    await store.retireKeys(tx, BigInt(d.clock()));
    await makeKey(d, tx);
    return currentKey(d, tx);
  });
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

/** The key functions bound to their dependencies and one signer cache: what issuance, refunds and the routes call. */
export function createKeyService(ctx: Pick<BrokerContext, 'db' | 'config' | 'clock' | 'random'>) {
  const { db, config, clock, random } = ctx;
  const d: KeyDeps = { db, config, clock, random, signers: new Map() };
  return {
    currentKey: (q?: Queryable) => currentKey(d, q),
    rotate: () => rotate(d),
    list: () => list(d),
    publicKey: (keyId: string) => store.publicKeyOf(db, keyId),
  };
}

export type KeyService = ReturnType<typeof createKeyService>;
