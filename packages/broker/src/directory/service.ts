/**
 * The chain directory (DESIGN.md §3): which vendor holds each chain now. A vendor meeting a chain asks
 * here first; a chain is held by one vendor at a time, under a lease the holder renews with its backups
 * and re-claims (docs/protocol.md §8.4). It moves on by a hand-over index the holder signs to the next
 * vendor, or — when the holder does not answer — by a take-over, granted only once the holder's lease has
 * run out (the holder has stopped accepting by then), from the holder's last backup index. Chains a peer
 * bought are not held here at all (peer_chain): P2P sellers accept them offline (docs/p2p.md §3).
 *
 * Plain functions over DirectoryDeps; createDirectoryService binds them. Their SQL is in store.ts. Each
 * runs in the transaction it is given (the route's, which records the idempotent answer with it: one
 * transaction per call), or in one of its own.
 */
import type { Db, Queryable } from '@netpay/db';
import {
  type ChainPoint,
  decodeMessage,
  fromBase64url,
  type IndexMessage,
  toBase64url,
  verifyIndex,
} from '@netpay/protocol';
import { peerOf } from '../accounts/peer.ts';
import { fail } from '../errors.ts';
import type { PartyService } from '../parties/service.ts';
import { topRedeemed } from '../redemption/store.ts';
import {
  closeHolding,
  type HeldChain,
  lockChainToClaim,
  lockHeldChain,
  recordBackup,
  recordHandover,
  renewLease,
  setHolder,
} from './store.ts';

/** What the directory runs on. */
export interface DirectoryDeps {
  readonly db: Db;
  /** Unix milliseconds. */
  readonly clock: () => number;
  /** How long a claim, hand-over or backup lets the holder accept without the directory hearing from it. */
  readonly leaseMs: number;
  readonly parties: Pick<PartyService, 'publicKey'>;
}

/** How long a lease has left (ms, never negative) and when it ends (Unix ms, broker clock). */
export function leaseLeft(leaseUntil: bigint | null, now: number) {
  const until = leaseUntil ?? 0n;
  const ms = until > BigInt(now) ? Number(until - BigInt(now)) : 0;
  return { leaseMs: ms, leaseUntil: Number(until) };
}

const newLease = (d: DirectoryDeps) => BigInt(d.clock() + d.leaseMs);

const refunding = () =>
  fail('chain_refunding', 'the owner is refunding this chain: it accepts no more payments');

/** `f` in the caller's transaction, or in one of its own. */
const within = <T>(d: DirectoryDeps, tx: Queryable | undefined, f: (tx: Queryable) => Promise<T>) =>
  tx ? f(tx) : d.db.transaction(f);

/** Locks a chain that may still be paid with: issued here, active and not expired. */
async function lockChain(d: DirectoryDeps, tx: Queryable, chainId: string): Promise<HeldChain> {
  return usable(d, chainId, await lockHeldChain(tx, chainId));
}

/**
 * The locked chain, if it may still be paid with: issued here, not a peer's, active and not expired. A
 * peer's chain is never held in the directory (docs/p2p.md §3): a holding here would let a take-over start
 * from the highest redeemed payword, so a seller could claim later coins from an old startIndex and have
 * the honest buyer charged back for them.
 */
function usable<C extends HeldChain>(d: DirectoryDeps, chainId: string, c: C | undefined): C {
  if (!c) throw fail('chain_not_found', `no chain ${chainId} was issued by this broker`);
  if (peerOf(c.customer_id) !== undefined)
    throw fail(
      'peer_chain',
      'a peer bought this chain: it is paid offline in P2P and never held in the directory',
    );
  if (c.status !== 'active')
    throw fail('chain_refunded', 'this chain was refunded or closed and accepts no payments');
  if (BigInt(d.clock()) >= c.expires_at) throw fail('chain_expired', 'this chain has expired');
  return c;
}

/** The last point of the chain the broker has verified: the latest backup or hand-over index, or the root. */
function knownPoint(c: HeldChain): ChainPoint {
  if (c.backup_message)
    return { index: c.backup_message.index, payword: fromBase64url(c.backup_message.payword)! };
  return { index: 0, payword: fromBase64url(c.touchstone.root)! };
}

/** The highest point known spent: the last backup or hand-over index, or the end of a redeemed range. */
async function spentPoint(tx: Queryable, c: HeldChain) {
  // Coins already redeemed are surely spent, even past the last backup.
  const top = await topRedeemed(tx, c.chain_id);
  const known = knownPoint(c);
  return top && top.to_index > known.index
    ? { index: top.to_index, payword: top.to_payword }
    : { index: known.index, payword: toBase64url(known.payword) };
}

function decodeIndex(input: unknown): IndexMessage {
  const decoded = decodeMessage('index', input);
  if (!decoded.ok) throw fail('malformed', decoded.error.message);
  return decoded.value;
}

/** Checks an index's signature, recipient, and that its payword really lies on the chain (incrementally). */
async function checkIndex(
  d: DirectoryDeps,
  tx: Queryable,
  c: HeldChain,
  index: IndexMessage,
  handedTo: string | null,
) {
  if (index.index < c.backup_index)
    throw fail('index_not_advancing', `index ${index.index} is behind the last known ${c.backup_index}`);
  const key = await d.parties.publicKey(index.vendorId, tx);
  if (!key) throw fail('unknown_party', `no vendor ${index.vendorId} is registered`);
  const checked = verifyIndex(index, {
    vendorKey: key,
    handedTo,
    touchstone: c.touchstone,
    anchor: knownPoint(c),
  });
  if (!checked.ok) throw fail(checked.error.code, checked.error.message);
}

/** Makes `partyId` the holder of a chain nobody holds, or renews its lease if it holds it already. */
async function grant(d: DirectoryDeps, tx: Queryable, c: HeldChain, partyId: string) {
  const lease = newLease(d);
  if (c.holder === null) {
    await setHolder(tx, c.chain_id, partyId, BigInt(d.clock()), lease, c.backup_index);
  } else {
    await renewLease(tx, c.chain_id, lease);
  }
  return {
    granted: true as const,
    touchstone: c.touchstone,
    backup: c.backup_message,
    holder: partyId,
    ...leaseLeft(lease, d.clock()),
  };
}

/**
 * A vendor meets a chain: it becomes the holder if nobody holds it, else it learns who does. The holder
 * asking again renews its lease (after a restart, or when its lease ran out while the chain was idle).
 */
export async function claim(d: DirectoryDeps, partyId: string, chainId: string, tx?: Queryable) {
  return within(d, tx, async (tx) => {
    const c = usable(d, chainId, await lockChainToClaim(tx, chainId, partyId));
    if (c.refund_requested_at !== null) throw refunding();
    if (c.holder !== null && c.holder !== partyId) {
      // No backup for a vendor that does not hold the chain: its payword would let a vendor that once
      // held the chain claim coins it never accepted, and have the owner charged for them.
      return {
        granted: false as const,
        touchstone: c.touchstone,
        backup: null,
        holder: { id: c.holder, url: c.holder_url },
        ...leaseLeft(c.lease_until, d.clock()),
      };
    }
    return { ...(await grant(d, tx, c, partyId)), holder: { id: partyId, url: c.holder_url } };
  });
}

/**
 * The new holder presents the index the old holder signed over to it. The old holding ends there (a hard
 * end: the holder signed that it stopped). During a refund the index still fixes where the old holding
 * ended, but the chain goes to nobody: the refund starts there, and the caller is refused
 * (chain_refunding) once that is recorded.
 */
export async function handover(d: DirectoryDeps, partyId: string, input: unknown) {
  return handedOver(await recordHandoverIn(d, partyId, input));
}

/** What a recorded hand-over answers: the new holding, or chain_refunding for one that went to nobody. */
export function handedOver(out: RecordedHandover): Exclude<RecordedHandover, { refused: true }> {
  if (out.refused) throw refunding();
  return out;
}

type RecordedHandover = Awaited<ReturnType<typeof recordHandoverIn>>;

/**
 * `handover`'s work, in the caller's transaction if given: the refusal of a hand-over during a refund is
 * an answer here (`{ refused: true }`), so that what it records is committed; `handedOver` turns it into
 * the error.
 */
export async function recordHandoverIn(d: DirectoryDeps, partyId: string, input: unknown, tx?: Queryable) {
  const index = decodeIndex(input);
  return within(d, tx, async (tx) => {
    const c = await lockChain(d, tx, index.chainId);
    if (c.holder !== index.vendorId) {
      throw fail(
        'chain_not_held',
        `the index is signed by ${index.vendorId}, but ${c.holder ?? 'nobody'} holds the chain`,
      );
    }
    await checkIndex(d, tx, c, index, partyId);
    const to = c.refund_requested_at === null ? partyId : null;
    const lease = to === null ? null : newLease(d);
    await recordHandover(tx, index.chainId, to, BigInt(d.clock()), index, lease);
    if (to === null) return { refused: true as const };
    return {
      granted: true as const,
      chainId: index.chainId,
      index: index.index,
      ...leaseLeft(lease, d.clock()),
    };
  });
}

/**
 * The holder pushes its latest index (handedTo null) as a backup for take-over; it renews the lease,
 * except while the owner is refunding the chain (then the lease runs out and the refund completes).
 */
export async function backup(d: DirectoryDeps, partyId: string, input: unknown, tx?: Queryable) {
  const index = decodeIndex(input);
  if (index.vendorId !== partyId)
    throw fail('forbidden', 'an index can only be backed up by the vendor that signed it');
  return within(d, tx, async (tx) => {
    const c = await lockChain(d, tx, index.chainId);
    if (c.holder !== partyId) throw fail('chain_not_held', `${partyId} does not hold this chain`);
    await checkIndex(d, tx, c, index, null);
    const lease = c.refund_requested_at === null ? newLease(d) : c.lease_until;
    await recordBackup(tx, index.chainId, index, lease);
    return {
      chainId: index.chainId,
      backupIndex: Math.max(index.index, c.backup_index),
      refunding: c.refund_requested_at !== null,
      ...leaseLeft(lease, d.clock()),
    };
  });
}

/**
 * The holder does not answer a hand-over request: the requester takes the chain over from the last
 * backup index (or the highest redeemed index), but only once the holder's lease has run out — a holder
 * that is slow, not dead, may still be accepting until then (409 lease_active with retryAfter). The old
 * holding ends softly there: coins its holder accepted under its lease after that backup stay its own to
 * redeem, and an overlap with the new holder's coins is charged to the owner who spent them twice.
 */
export async function takeover(d: DirectoryDeps, partyId: string, chainId: string, tx?: Queryable) {
  return within(d, tx, async (tx) => {
    const c = await lockChain(d, tx, chainId);
    if (c.refund_requested_at !== null) throw refunding();
    if (c.holder === partyId || c.holder === null) {
      const { holder: _self, ...granted } = await grant(d, tx, c, partyId);
      const known = knownPoint(c);
      const start = { index: known.index, payword: toBase64url(known.payword) };
      return { ...granted, start, previousHolder: null };
    }
    const left = leaseLeft(c.lease_until, d.clock());
    if (left.leaseMs > 0) {
      const retryAfter = Math.ceil(left.leaseMs / 1000);
      throw fail('lease_active', `${c.holder} holds this chain under a lease for ${retryAfter} s more`, {
        retryAfter,
      });
    }
    const lease = newLease(d);
    const startPoint = await spentPoint(tx, c);
    await closeHolding(tx, chainId, startPoint.index, true);
    await setHolder(tx, chainId, partyId, BigInt(d.clock()), lease, startPoint.index);
    return {
      granted: true as const,
      touchstone: c.touchstone,
      backup: c.backup_message,
      /** Where the new holding starts: accept only paywords beyond this point. */
      start: startPoint,
      previousHolder: c.holder,
      ...leaseLeft(lease, d.clock()),
    };
  });
}

/** The directory as one object (what the routes and tests call): the functions above, bound to `d`. */
export function createDirectoryService(d: DirectoryDeps) {
  return {
    claim: (partyId: string, chainId: string, tx?: Queryable) => claim(d, partyId, chainId, tx),
    handover: (partyId: string, input: unknown) => handover(d, partyId, input),
    /** The hand-over in the caller's transaction; `handedOver` makes its answer (or refusal) after commit. */
    recordHandover: (partyId: string, input: unknown, tx?: Queryable) =>
      recordHandoverIn(d, partyId, input, tx),
    handedOver,
    backup: (partyId: string, input: unknown, tx?: Queryable) => backup(d, partyId, input, tx),
    takeover: (partyId: string, chainId: string, tx?: Queryable) => takeover(d, partyId, chainId, tx),
  };
}

export type DirectoryService = ReturnType<typeof createDirectoryService>;
