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
}

/**
 * The chain directory (DESIGN.md §3): which vendor holds each chain now. A vendor meeting a chain asks
 * here first; a chain is held by one vendor at a time, moved on by a hand-over index the holder signs to
 * the next vendor, or — when the holder is unreachable — taken over from the holder's last backup index.
 */
export function createDirectoryService(ctx: BrokerContext, parties: PartyService) {
  const { db } = ctx;

  async function lockChain(tx: Parameters<Parameters<typeof db.transaction>[0]>[0], chainId: string) {
    const [c] = await tx.query<ChainRow>(
      'SELECT chain_id, n, status, touchstone, expires_at, holder, backup_index, backup_message FROM chains WHERE chain_id = $1 FOR UPDATE',
      [chainId],
    );
    if (!c) throw fail('chain_not_found', `no chain ${chainId} was issued by this broker`);
    if (c.status !== 'active')
      throw fail('chain_refunded', 'this chain was refunded or closed and accepts no payments');
    if (BigInt(ctx.clock()) >= c.expires_at) throw fail('chain_expired', 'this chain has expired');
    return c;
  }

  /** The last point of the chain the broker has verified: the latest backup or hand-over index, or the root. */
  function knownPoint(c: ChainRow): ChainPoint {
    if (c.backup_message)
      return { index: c.backup_message.index, payword: fromBase64url(c.backup_message.payword)! };
    return { index: 0, payword: fromBase64url(c.touchstone.root)! };
  }

  /** Checks an index's signature, recipient, and that its payword really lies on the chain (incrementally). */
  async function checkIndex(tx: Queryable, c: ChainRow, index: IndexMessage, handedTo: string | null) {
    if (index.index < c.backup_index)
      throw fail('index_invalid', `index ${index.index} is behind the last known ${c.backup_index}`);
    const key = await parties.publicKey(index.vendorId, tx);
    if (!key) throw fail('unknown_party', `no vendor ${index.vendorId} is registered`);
    const checked = verifyIndex(index, {
      vendorKey: key,
      handedTo,
      touchstone: c.touchstone,
      anchor: knownPoint(c),
    });
    if (!checked.ok) throw fail('index_invalid', checked.error.message, { protocolCode: checked.error.code });
  }

  async function holderInfo(id: string) {
    const p = await parties.get(id);
    return { id: p.id, url: p.url };
  }

  /** A vendor meets a chain: it becomes the holder if nobody holds it, else it learns who does. */
  async function claim(partyId: string, chainId: string) {
    const result = await db.transaction(async (tx) => {
      const c = await lockChain(tx, chainId);
      if (c.holder === null || c.holder === partyId) {
        if (c.holder === null) {
          await tx.query('UPDATE chains SET holder = $2, holder_since = $3 WHERE chain_id = $1', [
            chainId,
            partyId,
            BigInt(ctx.clock()),
          ]);
          await openHolding(tx, chainId, partyId, c.backup_index, ctx.clock());
        }
        return {
          granted: true as const,
          touchstone: c.touchstone,
          backup: c.backup_message,
          holder: partyId,
        };
      }
      return {
        granted: false as const,
        touchstone: c.touchstone,
        backup: c.backup_message,
        holder: c.holder,
      };
    });
    return { ...result, holder: await holderInfo(result.holder) };
  }

  /** The new holder presents the index the old holder signed over to it. */
  async function handover(partyId: string, input: unknown) {
    const decoded = decodeMessage('index', input);
    if (!decoded.ok) throw fail('index_invalid', decoded.error.message);
    const index = decoded.value;
    return db.transaction(async (tx) => {
      const c = await lockChain(tx, index.chainId);
      if (c.holder !== index.vendorId) {
        throw fail(
          'chain_not_held',
          `the index is signed by ${index.vendorId}, but ${c.holder ?? 'nobody'} holds the chain`,
        );
      }
      await checkIndex(tx, c, index, partyId);
      await tx.query(
        'UPDATE chains SET holder = $2, holder_since = $3, backup_index = $4, backup_message = $5 WHERE chain_id = $1',
        [index.chainId, partyId, BigInt(ctx.clock()), index.index, JSON.stringify(index)],
      );
      await closeHolding(tx, index.chainId, index.index);
      await openHolding(tx, index.chainId, partyId, index.index, ctx.clock());
      return { granted: true as const, chainId: index.chainId, index: index.index };
    });
  }

  /** The holder pushes its latest index (handedTo null) as a backup for take-over. */
  async function backup(partyId: string, input: unknown) {
    const decoded = decodeMessage('index', input);
    if (!decoded.ok) throw fail('index_invalid', decoded.error.message);
    const index = decoded.value;
    if (index.vendorId !== partyId)
      throw fail('forbidden', 'an index can only be backed up by the vendor that signed it');
    return db.transaction(async (tx) => {
      const c = await lockChain(tx, index.chainId);
      if (c.holder !== partyId) throw fail('chain_not_held', `${partyId} does not hold this chain`);
      await checkIndex(tx, c, index, null);
      if (index.index > c.backup_index) {
        await tx.query('UPDATE chains SET backup_index = $2, backup_message = $3 WHERE chain_id = $1', [
          index.chainId,
          index.index,
          JSON.stringify(index),
        ]);
      }
      return { chainId: index.chainId, backupIndex: Math.max(index.index, c.backup_index) };
    });
  }

  /**
   * The holder is unreachable: the requester takes the chain over from the last backup index. The old
   * holding ends there, so coins the old holder accepted after its last backup cannot be redeemed by it.
   */
  async function takeover(partyId: string, chainId: string) {
    return db.transaction(async (tx) => {
      const c = await lockChain(tx, chainId);
      if (c.holder === partyId)
        return {
          granted: true as const,
          touchstone: c.touchstone,
          backup: c.backup_message,
          previousHolder: null,
        };
      await tx.query('UPDATE chains SET holder = $2, holder_since = $3 WHERE chain_id = $1', [
        chainId,
        partyId,
        BigInt(ctx.clock()),
      ]);
      // Coins already redeemed are surely spent, even past the last backup: the new holding starts after them.
      const [top] = await tx.query<{ to_index: number; to_payword: string }>(
        "SELECT to_index, to_payword FROM redemptions WHERE chain_id = $1 AND kind = 'redemption' ORDER BY to_index DESC LIMIT 1",
        [chainId],
      );
      const known = knownPoint(c);
      const startPoint =
        top && top.to_index > known.index
          ? { index: top.to_index, payword: top.to_payword }
          : { index: known.index, payword: toBase64url(known.payword) };
      const start = startPoint.index;
      await closeHolding(tx, chainId, start);
      await openHolding(tx, chainId, partyId, start, ctx.clock());
      return {
        granted: true as const,
        touchstone: c.touchstone,
        backup: c.backup_message,
        /** Where the new holding starts: accept only paywords beyond this point. */
        start: startPoint,
        previousHolder: c.holder,
      };
    });
  }

  return { claim, handover, backup, takeover };
}

export type DirectoryService = ReturnType<typeof createDirectoryService>;
