import type { Queryable } from '@netpay/db';
import {
  type ChainPoint,
  decodeMessage,
  fromBase64url,
  type IndexMessage,
  type Touchstone,
  toBase64url,
  verifyIndex,
} from '@netpay/protocol';
import type { BrokerContext } from '../context.ts';
import { fail } from '../errors.ts';
import type { PartyService } from '../parties/service.ts';
import { closeHolding, openHolding } from './holdings.ts';

interface ChainRow {
  chain_id: string;
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

/** How long a lease has left (ms, never negative) and when it ends (Unix ms, broker clock). */
export function leaseLeft(leaseUntil: bigint | null, now: number) {
  const until = leaseUntil ?? 0n;
  const ms = until > BigInt(now) ? Number(until - BigInt(now)) : 0;
  return { leaseMs: ms, leaseUntil: Number(until) };
}

/**
 * The chain directory (DESIGN.md §3): which vendor holds each chain now. A vendor meeting a chain asks
 * here first; a chain is held by one vendor at a time, under a lease the holder renews with its backups
 * and re-claims (docs/protocol.md §8.4). It moves on by a hand-over index the holder signs to the next
 * vendor, or — when the holder does not answer — by a take-over, granted only once the holder's lease has
 * run out (the holder has stopped accepting by then), from the holder's last backup index.
 */
export function createDirectoryService(ctx: BrokerContext, parties: PartyService) {
  const { db } = ctx;
  const leaseMs = ctx.config.leaseSeconds * 1000;
  const newLease = () => BigInt(ctx.clock() + leaseMs);

  async function lockChain(tx: Parameters<Parameters<typeof db.transaction>[0]>[0], chainId: string) {
    const [c] = await tx.query<ChainRow>(
      `SELECT chain_id, n, status, touchstone, expires_at, holder, backup_index, backup_message, lease_until,
         refund_requested_at FROM chains WHERE chain_id = $1 FOR UPDATE`,
      [chainId],
    );
    if (!c) throw fail('chain_not_found', `no chain ${chainId} was issued by this broker`);
    if (c.status !== 'active')
      throw fail('chain_refunded', 'this chain was refunded or closed and accepts no payments');
    if (BigInt(ctx.clock()) >= c.expires_at) throw fail('chain_expired', 'this chain has expired');
    return c;
  }

  const refunding = () =>
    fail('chain_refunding', 'the owner is refunding this chain: it accepts no more payments');

  /** The last point of the chain the broker has verified: the latest backup or hand-over index, or the root. */
  function knownPoint(c: ChainRow): ChainPoint {
    if (c.backup_message)
      return { index: c.backup_message.index, payword: fromBase64url(c.backup_message.payword)! };
    return { index: 0, payword: fromBase64url(c.touchstone.root)! };
  }

  /** Checks an index's signature, recipient, and that its payword really lies on the chain (incrementally). */
  async function checkIndex(tx: Queryable, c: ChainRow, index: IndexMessage, handedTo: string | null) {
    if (index.index < c.backup_index)
      throw fail('index_not_advancing', `index ${index.index} is behind the last known ${c.backup_index}`);
    const key = await parties.publicKey(index.vendorId, tx);
    if (!key) throw fail('unknown_party', `no vendor ${index.vendorId} is registered`);
    const checked = verifyIndex(index, {
      vendorKey: key,
      handedTo,
      touchstone: c.touchstone,
      anchor: knownPoint(c),
    });
    if (!checked.ok) throw fail(checked.error.code, checked.error.message);
  }

  async function holderInfo(id: string) {
    const p = await parties.get(id);
    return { id: p.id, url: p.url };
  }

  /** Makes `partyId` the holder of a chain nobody holds, or renews its lease if it holds it already. */
  async function grant(tx: Queryable, c: ChainRow, partyId: string) {
    const lease = newLease();
    if (c.holder === null) {
      await tx.query(
        'UPDATE chains SET holder = $2, holder_since = $3, lease_until = $4 WHERE chain_id = $1',
        [c.chain_id, partyId, BigInt(ctx.clock()), lease],
      );
      await openHolding(tx, c.chain_id, partyId, c.backup_index, ctx.clock());
    } else {
      await tx.query('UPDATE chains SET lease_until = $2 WHERE chain_id = $1', [c.chain_id, lease]);
    }
    return {
      granted: true as const,
      touchstone: c.touchstone,
      backup: c.backup_message,
      holder: partyId,
      ...leaseLeft(lease, ctx.clock()),
    };
  }

  /**
   * A vendor meets a chain: it becomes the holder if nobody holds it, else it learns who does. The holder
   * asking again renews its lease (after a restart, or when its lease ran out while the chain was idle).
   */
  async function claim(partyId: string, chainId: string) {
    const result = await db.transaction(async (tx) => {
      const c = await lockChain(tx, chainId);
      if (c.refund_requested_at !== null) throw refunding();
      if (c.holder !== null && c.holder !== partyId) {
        // No backup for a vendor that does not hold the chain: its payword would let a vendor that once
        // held the chain claim coins it never accepted, and have the owner charged for them.
        return {
          granted: false as const,
          touchstone: c.touchstone,
          backup: null,
          holder: c.holder,
          ...leaseLeft(c.lease_until, ctx.clock()),
        };
      }
      return grant(tx, c, partyId);
    });
    return { ...result, holder: await holderInfo(result.holder) };
  }

  /**
   * The new holder presents the index the old holder signed over to it. The old holding ends there (a hard
   * end: the holder signed that it stopped). During a refund the index still fixes where the old holding
   * ended, but the chain goes to nobody: the refund starts there.
   */
  async function handover(partyId: string, input: unknown) {
    const decoded = decodeMessage('index', input);
    if (!decoded.ok) throw fail('malformed', decoded.error.message);
    const index = decoded.value;
    const out = await db.transaction(async (tx) => {
      const c = await lockChain(tx, index.chainId);
      if (c.holder !== index.vendorId) {
        throw fail(
          'chain_not_held',
          `the index is signed by ${index.vendorId}, but ${c.holder ?? 'nobody'} holds the chain`,
        );
      }
      await checkIndex(tx, c, index, partyId);
      const to = c.refund_requested_at === null ? partyId : null;
      const lease = to === null ? null : newLease();
      await tx.query(
        `UPDATE chains SET holder = $2, holder_since = $3, backup_index = $4, backup_message = $5, lease_until = $6
         WHERE chain_id = $1`,
        [index.chainId, to, BigInt(ctx.clock()), index.index, JSON.stringify(index), lease],
      );
      await closeHolding(tx, index.chainId, index.index, false);
      if (to === null) return { refused: true as const };
      await openHolding(tx, index.chainId, partyId, index.index, ctx.clock());
      return {
        granted: true as const,
        chainId: index.chainId,
        index: index.index,
        ...leaseLeft(lease, ctx.clock()),
      };
    });
    if ('refused' in out) throw refunding();
    return out;
  }

  /**
   * The holder pushes its latest index (handedTo null) as a backup for take-over; it renews the lease,
   * except while the owner is refunding the chain (then the lease runs out and the refund completes).
   */
  async function backup(partyId: string, input: unknown) {
    const decoded = decodeMessage('index', input);
    if (!decoded.ok) throw fail('malformed', decoded.error.message);
    const index = decoded.value;
    if (index.vendorId !== partyId)
      throw fail('forbidden', 'an index can only be backed up by the vendor that signed it');
    return db.transaction(async (tx) => {
      const c = await lockChain(tx, index.chainId);
      if (c.holder !== partyId) throw fail('chain_not_held', `${partyId} does not hold this chain`);
      await checkIndex(tx, c, index, null);
      const lease = c.refund_requested_at === null ? newLease() : c.lease_until;
      await tx.query(
        `UPDATE chains SET backup_index = GREATEST(backup_index, $2),
           backup_message = CASE WHEN $2 > backup_index THEN $3::jsonb ELSE backup_message END, lease_until = $4
         WHERE chain_id = $1`,
        [index.chainId, index.index, JSON.stringify(index), lease],
      );
      return {
        chainId: index.chainId,
        backupIndex: Math.max(index.index, c.backup_index),
        refunding: c.refund_requested_at !== null,
        ...leaseLeft(lease, ctx.clock()),
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
  async function takeover(partyId: string, chainId: string) {
    return db.transaction(async (tx) => {
      const c = await lockChain(tx, chainId);
      if (c.refund_requested_at !== null) throw refunding();
      if (c.holder === partyId || c.holder === null) {
        const { holder: _self, ...granted } = await grant(tx, c, partyId);
        const known = knownPoint(c);
        const start = { index: known.index, payword: toBase64url(known.payword) };
        return { ...granted, start, previousHolder: null };
      }
      const left = leaseLeft(c.lease_until, ctx.clock());
      if (left.leaseMs > 0) {
        const retryAfter = Math.ceil(left.leaseMs / 1000);
        throw fail('lease_active', `${c.holder} holds this chain under a lease for ${retryAfter} s more`, {
          retryAfter,
        });
      }
      const lease = newLease();
      await tx.query(
        'UPDATE chains SET holder = $2, holder_since = $3, lease_until = $4 WHERE chain_id = $1',
        [chainId, partyId, BigInt(ctx.clock()), lease],
      );
      const startPoint = await spentPoint(tx, c);
      await closeHolding(tx, chainId, startPoint.index, true);
      await openHolding(tx, chainId, partyId, startPoint.index, ctx.clock());
      return {
        granted: true as const,
        touchstone: c.touchstone,
        backup: c.backup_message,
        /** Where the new holding starts: accept only paywords beyond this point. */
        start: startPoint,
        previousHolder: c.holder,
        ...leaseLeft(lease, ctx.clock()),
      };
    });
  }

  /** The highest point known spent: the last backup or hand-over index, or the end of a redeemed range. */
  async function spentPoint(tx: Queryable, c: ChainRow) {
    // Coins already redeemed are surely spent, even past the last backup.
    const [top] = await tx.query<{ to_index: number; to_payword: string }>(
      "SELECT to_index, to_payword FROM redemptions WHERE chain_id = $1 AND kind = 'redemption' ORDER BY to_index DESC LIMIT 1",
      [c.chain_id],
    );
    const known = knownPoint(c);
    return top && top.to_index > known.index
      ? { index: top.to_index, payword: top.to_payword }
      : { index: known.index, payword: toBase64url(known.payword) };
  }

  return { claim, handover, backup, takeover };
}

export type DirectoryService = ReturnType<typeof createDirectoryService>;
