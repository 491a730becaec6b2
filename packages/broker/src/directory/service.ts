import { decodeMessage, type IndexMessage, type Touchstone, verifyIndex } from '@netpay/protocol';
import type { BrokerContext } from '../context.ts';
import { fail } from '../errors.ts';
import type { PartyService } from '../parties/service.ts';

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
      const key = await parties.publicKey(index.vendorId, tx);
      const checked = verifyIndex(index, { vendorKey: key!, handedTo: partyId, touchstone: c.touchstone });
      if (!checked.ok)
        throw fail('index_invalid', checked.error.message, { protocolCode: checked.error.code });
      if (index.index < c.backup_index)
        throw fail('index_invalid', `index ${index.index} is behind the last known ${c.backup_index}`);
      await tx.query(
        'UPDATE chains SET holder = $2, holder_since = $3, backup_index = $4, backup_message = $5 WHERE chain_id = $1',
        [index.chainId, partyId, BigInt(ctx.clock()), index.index, JSON.stringify(index)],
      );
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
      const key = await parties.publicKey(partyId, tx);
      const checked = verifyIndex(index, { vendorKey: key!, handedTo: null, touchstone: c.touchstone });
      if (!checked.ok)
        throw fail('index_invalid', checked.error.message, { protocolCode: checked.error.code });
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

  /** The holder is unreachable: the requester takes the chain over from the last backup index. */
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
      return {
        granted: true as const,
        touchstone: c.touchstone,
        backup: c.backup_message,
        previousHolder: c.holder,
      };
    });
  }

  return { claim, handover, backup, takeover };
}

export type DirectoryService = ReturnType<typeof createDirectoryService>;
