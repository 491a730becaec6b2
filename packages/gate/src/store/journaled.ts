/**
 * The chain store with a journal (issue 15: no SQL on the hot path). A payment's coins are checked
 * against the chain's state in memory (this process is the only writer of its database), appended to the
 * journal and made durable with the payments around it (one fdatasync per group), and only then does the
 * receipt leave; SQL gets them written behind (behind.ts). Every other operation reads or changes SQL, so
 * it first waits until SQL has every coin accepted so far (`drain`): what the redeemer claims, what a
 * hand-over signs as the final index and what the statement shows are exactly as without a journal.
 * On opening, what a crash left in the journal is written into SQL before anything else runs.
 */
import { type Behind, writeAll, writeBehind } from './behind.ts';
import type { StoreState } from './chains.ts';
import { type Journal, openJournal, replay, segments } from './journal.ts';
import type { Advance } from './round.ts';
import type { ChainStore } from './store.ts';

type Base = Omit<ChainStore, 'close'>;

/**
 * Writes what a crash left in the journal into SQL, the way the write-behind does (behind.ts), leaving
 * out the advances SQL has already (a chain's row is always at the end of one of its advances).
 */
async function recover(s: StoreState, path: string): Promise<void> {
  const left = replay(path);
  if (left.length === 0) return;
  const ids = [...new Set(left.map((a) => a.chainId))];
  const rows = await s.db.query<{ chain_id: string; accepted_index: number }>(
    'SELECT chain_id, accepted_index FROM vendor_chains WHERE chain_id = ANY($1::text[])',
    [ids],
  );
  const at = new Map(rows.map((r) => [r.chain_id, r.accepted_index]));
  await writeAll(
    s,
    left.filter((a) => a.toIndex > (at.get(a.chainId) ?? Number.POSITIVE_INFINITY)),
  );
}

/** The journal's way to accept one chain's coins: in memory, then on disk, then written behind. */
function journalCommit(s: StoreState, journal: Journal, last: LastReceipts) {
  return async (advance: Advance): Promise<boolean> => {
    // No await before the append: a hand-over that ends the holding from now on waits for this coin.
    const c = s.cache.get(advance.chainId);
    if (c?.status !== 'held' || c.acceptedIndex !== advance.fromIndex) return false;
    const durable = journal.append(advance);
    c.acceptedIndex = advance.toIndex; // no other payment on this chain may take the same coins
    c.acceptedPayword = advance.payword;
    try {
      await durable;
    } catch (e) {
      // Not accepted: memory goes back (the chain's lock is this payment's, nothing came in between).
      // Not dropped from the cache: SQL lags behind memory, so a reload could forget receipted coins.
      c.acceptedIndex = advance.fromIndex;
      c.acceptedPayword = advance.fromPayword;
      throw e;
    }
    last.set(advance.chainId, { index: advance.toIndex, receipt: advance.receipt });
    return true; // the write-behind takes it from the journal
  };
}

/** Each chain's latest receipt given here, so a retry is answered without waiting for SQL. */
type LastReceipts = Map<string, { index: number; receipt: unknown }>;

export function journaled(
  s: StoreState,
  base: Base,
  o: { path: string; onError: (e: unknown) => void; syncDatabase?: () => Promise<void> },
): ChainStore {
  let opened:
    | { behind: Behind; commit: (a: Advance) => Promise<boolean>; close: () => Promise<void> }
    | undefined;
  const last: LastReceipts = new Map();
  const ready = (async () => {
    const recovered = segments(o.path);
    await recover(s, o.path);
    const journal = await openJournal(o.path);
    const behind = writeBehind(s, journal, o.onError, {
      recovered,
      ...(o.syncDatabase ? { syncDatabase: o.syncDatabase } : {}),
    });
    opened = {
      behind,
      commit: journalCommit(s, journal, last),
      close: async () => {
        await behind.close();
        await journal.close();
      },
    };
    return opened;
  })();
  // A failed recovery fails every operation that waits for it (the vendor must not run on stale state).
  ready.catch(o.onError);
  const open = async () => opened ?? (await ready);
  const drain = async () => (await open()).behind.drain();
  /** `f` once SQL has every coin accepted so far. */
  const current =
    <A extends unknown[], R>(f: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      await drain();
      return f(...args);
    };
  /** A holding ends: no coin is accepted from now on (its lease is gone), and SQL gets every one first. */
  const ending =
    <R>(f: (chainId: string) => Promise<R>) =>
    async (chainId: string): Promise<R> => {
      s.leases.delete(chainId);
      last.delete(chainId);
      await drain();
      return f(chainId);
    };
  const journalOrWait = (a: Advance): Promise<boolean> =>
    opened ? opened.commit(a) : ready.then((o) => o.commit(a));
  /** A payment from several chains: all or none in SQL, once SQL is current and the leases still hold. */
  const sqlCommitAll = async (advances: readonly Advance[]) => {
    await drain();
    // Waiting for SQL may have taken part of the margin the gate's lease check counted on.
    if (advances.some((a) => !base.mayCommit(a.chainId, s.clock()))) return false;
    return base.commitAll(advances);
  };
  return {
    ...base,
    statement: current(base.statement),
    revenue: current(base.revenue),
    payeeTotals: current(base.payeeTotals),
    recordClaims: current(base.recordClaims),
    sentClaims: current(base.sentClaims),
    settleClaim: current(base.settleClaim),
    get: async (chainId) => {
      if (!opened) await ready;
      return base.get(chainId);
    },
    // Before recovery the cache may lag behind the journal: nothing is cached-current until it is done.
    peek: (chainId) => (opened ? base.peek(chainId) : undefined),
    reload: current(base.reload),
    // No drain: a chain is held anew only when it is not held here, and every holding's end drained its
    // coins already (`ending`); the other chains' coins have nothing to do with this row.
    hold: async (touchstone, start, startMessage) => {
      if (!opened) await ready; // after recovery, as everything else
      return base.hold(touchstone, start, startMessage);
    },
    release: ending(base.release),
    releaseTakenOver: ending(base.releaseTakenOver),
    commit: journalOrWait,
    // A payment from one chain (the usual case) goes through the journal; one from several chains is
    // committed all or none in one SQL transaction, once SQL is current.
    commitAll: (advances) => (advances.length === 1 ? journalOrWait(advances[0]!) : sqlCommitAll(advances)),
    // A retry of the chain's latest payment (the usual retry) from memory; an older one from SQL.
    receipt: async (chainId, index) => {
      const l = last.get(chainId);
      const latest = l?.index === index && s.cache.get(chainId)?.acceptedIndex === index;
      return latest ? l!.receipt : current(base.receipt)(chainId, index);
    },
    unredeemed: current(base.unredeemed),
    heldChains: current(base.heldChains),
    heldChainsAfter: current(base.heldChainsAfter),
    // No drain: the backed-up index was read by heldChains (which drains), and SQL only moves on from it.
    markBackedUp: base.markBackedUp,
    markRedeemed: current(base.markRedeemed),
    pendingRanges: current(base.pendingRanges),
    payeeRuns: current(base.payeeRuns),
    close: async () => {
      if (!opened) await ready;
      await opened!.close();
    },
  };
}
