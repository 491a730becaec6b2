/**
 * The chains this vendor holds or held (vendor_chains): how far each was accepted, redeemed and backed up
 * at the broker, read through an in-memory cache of the hot state. The store's other modules work over
 * the same `StoreState`.
 */
import type { Db } from '@netpay/db';
import { fromBase64url, type IndexMessage, type Touchstone, toBase64url } from '@netpay/protocol';

/** What the vendor knows of one chain. Paywords as bytes in memory, base64url in the database. */
export interface HeldChain {
  readonly chainId: string;
  readonly touchstone: Touchstone;
  readonly startIndex: number;
  readonly startPayword: Uint8Array;
  acceptedIndex: number;
  acceptedPayword: Uint8Array;
  redeemedIndex: number;
  redeemedPayword: Uint8Array;
  status: 'held' | 'handed';
  /** P2P: the payer's signed index this holding began at (its claims carry it as `startIndex`). */
  readonly startMessage?: IndexMessage;
}

/** What every store function works over: the database, the clock, and the hot state in memory. */
export interface StoreState {
  readonly db: Db;
  readonly clock: () => number;
  readonly cache: Map<string, HeldChain>;
  /**
   * Per held chain, until when (this process's clock, ms) its lease lets it accept coins: in memory only,
   * so after a restart every chain's holding is renewed at the broker before its next coin is accepted.
   */
  readonly leases: Map<string, number>;
}

/** A vendor_chains row, as read (the columns the cache keeps). */
export interface Row {
  chain_id: string;
  touchstone: Touchstone;
  start_index: number;
  start_payword: string;
  accepted_index: number;
  accepted_payword: string;
  redeemed_index: number;
  redeemed_payword: string;
  status: 'held' | 'handed';
  start_message: IndexMessage | null;
  end_message: IndexMessage | null;
}

const fromRow = (r: Row): HeldChain => ({
  chainId: r.chain_id,
  touchstone: r.touchstone,
  startIndex: r.start_index,
  startPayword: fromBase64url(r.start_payword)!,
  acceptedIndex: r.accepted_index,
  acceptedPayword: fromBase64url(r.accepted_payword)!,
  redeemedIndex: r.redeemed_index,
  redeemedPayword: fromBase64url(r.redeemed_payword)!,
  status: r.status,
  ...(r.start_message ? { startMessage: r.start_message } : {}),
});

/** The chain as cached, without reading the database (undefined when not cached). */
export const peek = (s: StoreState, chainId: string): HeldChain | undefined => s.cache.get(chainId);

export async function get(s: StoreState, chainId: string): Promise<HeldChain | undefined> {
  const hit = s.cache.get(chainId);
  if (hit) return hit;
  return reload(s, chainId);
}

export async function reload(s: StoreState, chainId: string): Promise<HeldChain | undefined> {
  const [row] = await s.db.query<Row>('SELECT * FROM vendor_chains WHERE chain_id = $1', [chainId]);
  if (!row) {
    s.cache.delete(chainId);
    return undefined;
  }
  return cached(s, row);
}

/** A row just read or written, cached as the chain's state. */
export function cached(s: StoreState, row: Row): HeldChain {
  const chain = fromRow(row);
  s.cache.set(row.chain_id, chain);
  return chain;
}

/**
 * Chains with accepted coins not yet redeemed, as the database has them; P2P holdings with the payer's
 * signed index at the accepted point (`endMessage`, which the cache does not keep).
 */
export async function unredeemed(
  s: StoreState,
  limit = 200,
): Promise<(HeldChain & { readonly endMessage?: IndexMessage })[]> {
  const rows = await s.db.query<Row>(
    'SELECT * FROM vendor_chains WHERE accepted_index > redeemed_index ORDER BY updated_at LIMIT $1',
    [limit],
  );
  return rows.map((r) => ({ ...fromRow(r), ...(r.end_message ? { endMessage: r.end_message } : {}) }));
}

/** Held chains whose latest coins the broker has no backup of yet, most recently used first. */
export async function heldChains(s: StoreState, limit = 1000): Promise<HeldChain[]> {
  const rows = await s.db.query<Row>(
    `SELECT * FROM vendor_chains WHERE status = 'held' AND accepted_index > COALESCE(backup_index, start_index)
       ORDER BY updated_at DESC LIMIT $1`,
    [limit],
  );
  return rows.map(fromRow);
}

/** Every chain this vendor holds, in chain id order after `cursor` (a sweep after a restart). */
export async function heldChainsAfter(s: StoreState, cursor: string, limit = 1000): Promise<HeldChain[]> {
  const rows = await s.db.query<Row>(
    `SELECT * FROM vendor_chains WHERE status = 'held' AND chain_id > $1 ORDER BY chain_id LIMIT $2`,
    [cursor, limit],
  );
  return rows.map(fromRow);
}

/** The broker holds a backup of this holding up to `index`. */
export async function markBackedUp(s: StoreState, chainId: string, index: number, payword: Uint8Array) {
  await s.db.query(
    `UPDATE vendor_chains SET backup_index = $2, backup_payword = $3
       WHERE chain_id = $1 AND status = 'held' AND COALESCE(backup_index, -1) < $2 AND accepted_index >= $2`,
    [chainId, index, toBase64url(payword)],
  );
}

/** The broker credited this holding's coins up to `index`. */
export async function markRedeemed(s: StoreState, chainId: string, index: number, payword: Uint8Array) {
  await s.db.query(
    'UPDATE vendor_chains SET redeemed_index = $2, redeemed_payword = $3 WHERE chain_id = $1 AND redeemed_index < $2',
    [chainId, index, toBase64url(payword)],
  );
  const c = s.cache.get(chainId);
  if (c && c.redeemedIndex < index) {
    c.redeemedIndex = index;
    c.redeemedPayword = payword;
  }
}
