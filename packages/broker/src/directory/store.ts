/**
 * The chain directory's store: every SQL statement that reads or writes the `chains` and `chain_holdings`
 * tables, as small functions over a Queryable (the caller's transaction when it holds one). Issuance,
 * redemption, refunds and keys reach these tables only through here (store.test.ts checks that no other
 * module holds such SQL). Times are Unix milliseconds as bigint, as the tables store them. It is longer than
 * our usual 300 lines on purpose: one file is what makes "only the store touches `chains`" checkable.
 */
import type { Queryable } from '@netpay/db';
import type { IndexMessage, Touchstone } from '@netpay/protocol';

// ---- The directory: who holds a chain, under which lease, and its last verified index ----

/** A chain as the directory sees it: its holder, lease and last backup or hand-over index. */
export interface HeldChain {
  chain_id: string;
  /** The owner: a customer id, `peer:<id>` for a chain a peer bought (never held here, docs/p2p.md §3). */
  customer_id: string;
  n: number;
  status: string;
  touchstone: Touchstone;
  expires_at: bigint;
  holder: string | null;
  backup_index: number;
  backup_message: IndexMessage | null;
  lease_until: bigint | null;
  refund_requested_at: bigint | null;
}

/** Locks one chain's row for a directory change (claim, hand-over, backup, take-over). */
export async function lockHeldChain(q: Queryable, chainId: string): Promise<HeldChain | undefined> {
  const [c] = await q.query<HeldChain>(
    `SELECT chain_id, customer_id, n, status, touchstone, expires_at, holder, backup_index, backup_message,
         lease_until, refund_requested_at FROM chains WHERE chain_id = $1 FOR UPDATE`,
    [chainId],
  );
  return c;
}

/**
 * Locks a chain for `partyId`'s claim, with the URL of the vendor it names: the holder's, or the
 * claimant's own when nobody else holds it (one statement: a hand-over needs the holder's URL at once).
 */
export async function lockChainToClaim(
  q: Queryable,
  chainId: string,
  partyId: string,
): Promise<(HeldChain & { holder_url: string | null }) | undefined> {
  const [c] = await q.query<HeldChain & { holder_url: string | null }>(
    `SELECT chain_id, customer_id, n, status, touchstone, expires_at, holder, backup_index, backup_message,
         lease_until, refund_requested_at, (SELECT url FROM parties WHERE id = COALESCE(holder, $2)) AS holder_url
       FROM chains WHERE chain_id = $1 FOR UPDATE`,
    [chainId, partyId],
  );
  return c;
}

/**
 * Makes `holder` the chain's holder from `since` under a lease until `leaseUntil`, and opens its holding
 * at `startIndex` (one statement). The previous holding, if any, must be closed already.
 */
export async function setHolder(
  q: Queryable,
  chainId: string,
  holder: string,
  since: bigint,
  leaseUntil: bigint,
  startIndex: number,
) {
  await q.query(
    `WITH held AS (
       UPDATE chains SET holder = $2, holder_since = $3, lease_until = $4 WHERE chain_id = $1
     )
     ${OPEN_HOLDING}`,
    [chainId, holder, since, leaseUntil, startIndex],
  );
}

export async function renewLease(q: Queryable, chainId: string, leaseUntil: bigint) {
  await q.query('UPDATE chains SET lease_until = $2 WHERE chain_id = $1', [chainId, leaseUntil]);
}

/**
 * Moves the chain to `to` at the hand-over index the old holder signed: the old holding ends there (a hard
 * end), and `to`'s opens there. To nobody (during a refund): the chain is left without a holder.
 */
export async function recordHandover(
  q: Queryable,
  chainId: string,
  to: string | null,
  since: bigint,
  index: IndexMessage,
  leaseUntil: bigint | null,
) {
  await q.query(
    `WITH moved AS (
       UPDATE chains SET holder = $2, holder_since = $3, lease_until = $4, backup_index = $5,
           backup_message = $6 WHERE chain_id = $1
     ), ended AS (
       UPDATE chain_holdings SET end_index = $5, soft_end = false WHERE chain_id = $1 AND end_index IS NULL
     )
     ${OPEN_HOLDING} HAVING $2::text IS NOT NULL`,
    [chainId, to, since, leaseUntil, index.index, JSON.stringify(index)],
  );
}

/** Keeps the holder's index as the backup if it is beyond the last one, and sets the lease. */
export async function recordBackup(
  q: Queryable,
  chainId: string,
  index: IndexMessage,
  leaseUntil: bigint | null,
) {
  await q.query(
    `UPDATE chains SET backup_index = GREATEST(backup_index, $2),
           backup_message = CASE WHEN $2 > backup_index THEN $3::jsonb ELSE backup_message END, lease_until = $4
         WHERE chain_id = $1`,
    [chainId, index.index, JSON.stringify(index), leaseUntil],
  );
}

// ---- Holdings: one row per vendor that held a chain, from the index it got it at to where it ended ----

/**
 * The holding history of a chain: one row per vendor that held it, with the index it got the chain at and
 * the index it handed the chain on at (open while it holds it). Redemption consults it so a vendor can
 * only redeem coins from its own holding. A holding is opened by the statement that makes its vendor the
 * holder (setHolder, recordHandover): $1 chain, $2 vendor, $3 since, $5 start index. Its data-modifying
 * parts see the holdings as they were before the statement, so the one it closes is never the new one.
 */
const OPEN_HOLDING = `INSERT INTO chain_holdings (chain_id, seq, party_id, start_index, started_at)
     SELECT $1, COALESCE(max(seq), 0) + 1, $2, $5, $3 FROM chain_holdings WHERE chain_id = $1`;

/**
 * Ends the open holding of a chain at `endIndex` (the index it was handed on, taken over or refunded at).
 * `soft`: the holder did not sign its final index (its lease ran out), so it may have accepted coins
 * beyond `endIndex` under its lease; they stay its own to redeem.
 */
export async function closeHolding(tx: Queryable, chainId: string, endIndex: number, soft: boolean) {
  await tx.query(
    'UPDATE chain_holdings SET end_index = $2, soft_end = $3 WHERE chain_id = $1 AND end_index IS NULL',
    [chainId, endIndex, soft],
  );
}

export interface Holding {
  readonly chain_id: string;
  readonly party_id: string;
  readonly start_index: number;
  readonly end_index: number | null;
  readonly soft_end: boolean;
}

export async function holdingsOf(
  q: Queryable,
  chainIds: readonly string[],
  partyId: string,
): Promise<Holding[]> {
  return q.query<Holding>(
    'SELECT chain_id, party_id, start_index, end_index, soft_end FROM chain_holdings WHERE chain_id = ANY($1::text[]) AND party_id = $2',
    [chainIds, partyId],
  );
}

// ---- Issuance: new chains, a customer's chains and their outstanding value ----

/** A chain as issuance writes it. */
export interface NewChain {
  readonly chainId: string;
  readonly customerId: string;
  readonly keyId: string;
  readonly n: number;
  readonly coinValue: bigint;
  readonly touchstone: Touchstone;
  readonly expiresAt: bigint;
  /** The server-side wallet's seed; null for a chain the customer's wallet generated. */
  readonly serverSeed: Uint8Array | null;
  readonly createdAt: bigint;
}

/**
 * Inserts the chains of one purchase in one statement; the ids of those that existed already (and so
 * were not inserted). Seeds travel as hex and touchstones as JSON text, so every driver passes them alike.
 */
export async function insertChains(q: Queryable, chains: readonly NewChain[]): Promise<string[]> {
  const inserted = await q.query<{ chain_id: string }>(
    `INSERT INTO chains (chain_id, customer_id, key_id, n, coin_value, touchstone, expires_at, server_seed, created_at)
       SELECT c.chain_id, c.customer_id, c.key_id, c.n, c.coin_value, c.touchstone::jsonb, c.expires_at,
              decode(c.server_seed, 'hex'), c.created_at
         FROM unnest($1::text[], $2::text[], $3::text[], $4::int4[], $5::int8[], $6::text[], $7::int8[], $8::text[], $9::int8[])
           AS c(chain_id, customer_id, key_id, n, coin_value, touchstone, expires_at, server_seed, created_at)
       ON CONFLICT (chain_id) DO NOTHING RETURNING chain_id`,
    [
      chains.map((c) => c.chainId),
      chains.map((c) => c.customerId),
      chains.map((c) => c.keyId),
      chains.map((c) => c.n),
      chains.map((c) => c.coinValue.toString()),
      chains.map((c) => JSON.stringify(c.touchstone)),
      chains.map((c) => c.expiresAt.toString()),
      chains.map((c) => (c.serverSeed ? Buffer.from(c.serverSeed).toString('hex') : null)),
      chains.map((c) => c.createdAt.toString()),
    ],
  );
  const made = new Set(inserted.map((r) => r.chain_id));
  return chains.map((c) => c.chainId).filter((id) => !made.has(id));
}

/** Value (minor units) of the customer's active chains not yet redeemed or refunded. */
export async function outstandingValue(q: Queryable, customerId: string): Promise<bigint> {
  const [row] = await q.query<{ total: bigint }>(
    `SELECT (COALESCE((SELECT sum(n::int8 * coin_value) FROM chains WHERE customer_id = $1 AND status = 'active'), 0)
        - COALESCE((SELECT sum(r.amount) FROM redemptions r JOIN chains c ON c.chain_id = r.chain_id
                    WHERE c.customer_id = $1 AND c.status = 'active'), 0))::int8 AS total`,
    [customerId],
  );
  return row?.total ?? 0n;
}

/**
 * What each of the customers `ids` bought and kept, by id (bought nothing: absent): the value of all its
 * chains less what was refunded of them (on request or at expiry). P2P's demand.
 */
export async function keptValueOf(q: Queryable, ids: readonly string[]): Promise<Map<string, bigint>> {
  const rows = await q.query<{ customer_id: string; kept: bigint }>(
    `SELECT c.customer_id, sum(c.n::int8 * c.coin_value - COALESCE(r.refunded, 0))::int8 AS kept
       FROM chains c
       LEFT JOIN LATERAL (SELECT sum(amount) AS refunded FROM redemptions
                           WHERE chain_id = c.chain_id AND kind = 'refund') r ON true
      WHERE c.customer_id = ANY($1::text[])
      GROUP BY c.customer_id`,
    [[...new Set(ids)]],
  );
  return new Map(rows.map((r) => [r.customer_id, r.kept]));
}

/** One of a customer's chains with how far it is redeemed and who holds it. */
export interface CustomerChain {
  chain_id: string;
  n: number;
  coin_value: bigint;
  status: string;
  touchstone: Touchstone;
  server_seed: Uint8Array | null;
  redeemed: bigint;
  top: number | null;
  backup_index: number;
  holder: string | null;
  lease_until: bigint | null;
  refund_requested_at: bigint | null;
}

/**
 * The customer's chains (or just `chainId`, if it is theirs), oldest first: at most `page.limit`, those
 * created after the customer's chain `page.after` (none if it is not theirs).
 */
export async function customerChains(
  q: Queryable,
  customerId: string,
  chainId: string | null,
  page: { after: string | null; limit: number } = { after: null, limit: 1 },
): Promise<CustomerChain[]> {
  return q.query<CustomerChain>(
    `SELECT c.chain_id, c.n, c.coin_value, c.status, c.touchstone, c.server_seed, c.backup_index, c.holder,
              c.lease_until, c.refund_requested_at,
              COALESCE((SELECT sum(to_index - from_index) FROM redemptions r WHERE r.chain_id = c.chain_id AND r.kind = 'redemption'), 0)::int8 AS redeemed,
              (SELECT max(to_index) FROM redemptions r WHERE r.chain_id = c.chain_id AND r.kind = 'redemption') AS top
       FROM chains c WHERE c.customer_id = $1 AND ($2::text IS NULL OR c.chain_id = $2)
         AND ($3::text IS NULL OR (c.created_at, c.chain_id) >
           (SELECT a.created_at, a.chain_id FROM chains a WHERE a.chain_id = $3 AND a.customer_id = $1))
       ORDER BY c.created_at, c.chain_id LIMIT $4`,
    [customerId, chainId, page.after, page.limit],
  );
}

// ---- Redemption ----

/** A chain as redemption checks claims against it. */
export interface RedeemableChain {
  chain_id: string;
  customer_id: string;
  n: number;
  coin_value: bigint;
  touchstone: Touchstone;
  expires_at: bigint;
}

/** Locks the chains a batch of claims names, in chain id order (so concurrent batches cannot deadlock). */
export async function lockChainsToRedeem(q: Queryable, chainIds: readonly string[]) {
  return q.query<RedeemableChain>(
    'SELECT chain_id, customer_id, n, coin_value, touchstone, expires_at FROM chains WHERE chain_id = ANY($1::text[]) ORDER BY chain_id FOR UPDATE',
    [chainIds],
  );
}

/** A chain's size and status, for its money account. */
export async function chainSize(
  q: Queryable,
  chainId: string,
): Promise<{ n: number; coin_value: bigint; status: string } | undefined> {
  const [c] = await q.query<{ n: number; coin_value: bigint; status: string }>(
    'SELECT n, coin_value, status FROM chains WHERE chain_id = $1',
    [chainId],
  );
  return c;
}

// ---- Refunds: a refund is a hand-over to the broker ----

/** A chain as refunds see it: its owner, value, holder and the refund asked for. */
export interface RefundableChain {
  chain_id: string;
  customer_id: string;
  n: number;
  coin_value: bigint;
  status: string;
  touchstone: Touchstone;
  holder: string | null;
  backup_index: number;
  backup_message: IndexMessage | null;
  expires_at: bigint;
  lease_until: bigint | null;
  refund_requested_at: bigint | null;
  refund_stated_index: number | null;
}

const REFUND_COLUMNS = `chain_id, customer_id, n, coin_value, status, touchstone, holder, backup_index,
  backup_message, expires_at, lease_until, refund_requested_at, refund_stated_index`;

export async function lockChainToRefund(q: Queryable, chainId: string): Promise<RefundableChain | undefined> {
  const [c] = await q.query<RefundableChain>(
    `SELECT ${REFUND_COLUMNS} FROM chains WHERE chain_id = $1 FOR UPDATE`,
    [chainId],
  );
  return c;
}

/** Records a refund request: the first request's time, and the highest spent index the owner stated. */
export async function requestRefund(q: Queryable, chainId: string, now: bigint, statedIndex: number) {
  await q.query(
    `UPDATE chains SET refund_requested_at = COALESCE(refund_requested_at, $2),
           refund_stated_index = GREATEST(COALESCE(refund_stated_index, 0), $3) WHERE chain_id = $1`,
    [chainId, now, statedIndex],
  );
}

/** The holder handed the chain to the broker at its final index: nobody holds it from here. */
export async function releaseAtFinalIndex(q: Queryable, chainId: string, final: IndexMessage) {
  await q.query(
    'UPDATE chains SET holder = NULL, backup_index = $2, backup_message = $3 WHERE chain_id = $1',
    [chainId, final.index, JSON.stringify(final)],
  );
}

/** Closes a chain for good (refunded, or closed past expiry): nobody holds it any more. */
export async function markClosed(q: Queryable, chainId: string, status: 'refunded' | 'closed') {
  await q.query('UPDATE chains SET status = $2, holder = NULL, lease_until = NULL WHERE chain_id = $1', [
    chainId,
    status,
  ]);
}

/** Active chains with a refund requested, oldest request first. */
export async function pendingRefunds(q: Queryable, limit: number) {
  return q.query<RefundableChain>(
    `SELECT ${REFUND_COLUMNS} FROM chains WHERE refund_requested_at IS NOT NULL AND status = 'active'
       ORDER BY refund_requested_at LIMIT $1`,
    [limit],
  );
}

/** Locks active chains that expired before `cutoff`, skipping those another worker holds. */
export async function lockExpiredChains(q: Queryable, cutoff: bigint, limit: number) {
  return q.query<RefundableChain>(
    `SELECT ${REFUND_COLUMNS} FROM chains
         WHERE status = 'active' AND expires_at < $1 ORDER BY chain_id LIMIT $2 FOR UPDATE SKIP LOCKED`,
    [cutoff, limit],
  );
}

// ---- Keys ----

/** The latest expiry (Unix ms) of the chains each broker key signed, by key id (keys that signed none are absent). */
export async function lastExpiryByKey(q: Queryable): Promise<Map<string, bigint>> {
  const rows = await q.query<{ key_id: string; last_expiry: bigint }>(
    'SELECT key_id, max(expires_at) AS last_expiry FROM chains GROUP BY key_id',
  );
  return new Map(rows.map((r) => [r.key_id, r.last_expiry]));
}

/** The peer that bought a chain, with its key and whether it is frozen; undefined for any other chain. */
export async function peerChainOwner(q: Queryable, chainId: string) {
  const [row] = await q.query<{ id: string; public_key: Uint8Array; frozen_at: bigint | null }>(
    `SELECT p.id, p.public_key, p.frozen_at FROM chains c JOIN parties p ON c.customer_id = 'peer:' || p.id
       WHERE c.chain_id = $1 AND p.kind = 'peer'`,
    [chainId],
  );
  return row;
}
