/**
 * Accepted coins and their receipts, written through by group commit: every advance waiting when a flush
 * starts goes into one transaction with multi-row statements (round.ts), and each caller's promise
 * resolves when that transaction has committed. An advance is applied only if the row still has the
 * accepted index it was verified against (compare-and-set), so two instances over one PostgreSQL can
 * never both accept the same coin; the loser is told `false` and reloads.
 */
import type { StoreState } from './chains.ts';
import { type Advance, appliedKey, writeRound } from './round.ts';

/** The advances waiting for the next flush, and whether one is under way. */
export interface CommitQueue {
  /** Most advances written in one transaction. */
  readonly maxBatch: number;
  waiting: { advance: Advance; resolve: (ok: boolean) => void; reject: (e: unknown) => void }[];
  flushing: boolean;
}

export const commitQueue = (maxBatch: number): CommitQueue => ({ maxBatch, waiting: [], flushing: false });

/** Queues an advance; resolves true once committed, false if another writer advanced the chain first. */
export function commit(s: StoreState, q: CommitQueue, advance: Advance): Promise<boolean> {
  return new Promise((resolve, reject) => {
    q.waiting.push({ advance, resolve, reject });
    if (!q.flushing) {
      q.flushing = true;
      // Start on the next turn of the event loop, after pending I/O: PGlite runs on this thread and its
      // queries resolve without yielding to I/O, so starting at once would commit one payment at a time.
      setImmediate(() => void flush(s, q));
    }
  });
}

async function flush(s: StoreState, q: CommitQueue): Promise<void> {
  try {
    while (q.waiting.length > 0) {
      const batch = q.waiting.slice(0, q.maxBatch);
      q.waiting = q.waiting.slice(batch.length);
      try {
        const applied = await writeBatch(
          s,
          batch.map((b) => b.advance),
        );
        for (const b of batch) {
          const ok = applied.has(appliedKey(b.advance.chainId, b.advance.toIndex));
          if (ok) accepted(s, b.advance);
          else s.cache.delete(b.advance.chainId);
          b.resolve(ok);
        }
      } catch (e) {
        for (const b of batch) b.reject(e);
      }
      // Let requests that arrived meanwhile reach the queue before the next batch is taken.
      await new Promise((r) => setImmediate(r));
    }
  } finally {
    q.flushing = false;
  }
}

/** A committed advance moves the cached chain's accepted index on (never back). */
function accepted(s: StoreState, a: Advance): void {
  const c = s.cache.get(a.chainId);
  if (c && c.acceptedIndex < a.toIndex) {
    c.acceptedIndex = a.toIndex;
    c.acceptedPayword = a.payword;
  }
}

/** One round per distinct chain; a batch of distinct chains (the usual case) is one statement. */
function rounds(advances: readonly Advance[]): Advance[][] {
  const out: Advance[][] = [];
  const depth = new Map<string, number>();
  for (const a of advances) {
    const k = depth.get(a.chainId) ?? 0;
    depth.set(a.chainId, k + 1);
    const round = out[k];
    if (round) round.push(a);
    else out.push([a]);
  }
  return out;
}

export async function writeBatch(s: StoreState, advances: Advance[]): Promise<Set<string>> {
  const now = BigInt(s.clock());
  const all = rounds(advances);
  if (all.length === 1) return writeRound(s.db, all[0]!, now);
  return s.db.transaction(async (tx) => {
    const applied = new Set<string>();
    for (const round of all) for (const k of await writeRound(tx, round, now)) applied.add(k);
    return applied;
  });
}

/**
 * Commits all advances of one payment or none. One chain: through group commit. Several chains: in a
 * transaction of their own, so a conflict on one chain leaves the others untouched too.
 */
export async function commitAll(
  s: StoreState,
  q: CommitQueue,
  advances: readonly Advance[],
): Promise<boolean> {
  if (advances.length === 1) return commit(s, q, advances[0]!);
  const conflict = new Error('conflict');
  try {
    await s.db.transaction(async (tx) => {
      const applied = await writeRound(tx, advances, BigInt(s.clock()));
      if (applied.size !== advances.length) throw conflict;
    });
  } catch (e) {
    if (e !== conflict) throw e;
    for (const a of advances) s.cache.delete(a.chainId);
    return false;
  }
  for (const a of advances) accepted(s, a);
  return true;
}

/** The answer given to a chain's latest payment, if `index` is still that payment's. */
export async function receipt(s: StoreState, chainId: string, index: number): Promise<unknown | undefined> {
  const [row] = await s.db.query<{ last_receipt: string | null }>(
    'SELECT last_receipt FROM vendor_chains WHERE chain_id = $1 AND accepted_index = $2',
    [chainId, index],
  );
  return row?.last_receipt ? JSON.parse(row.last_receipt) : undefined;
}
