/**
 * The journal's advances written behind into SQL (journal.ts): every FLUSH_MS, or at once when a reader
 * needs the database to be current (`drain`), the advances made durable since are merged — consecutive
 * advances of one chain become one, since the chain's row keeps only its latest state (not those with
 * payees: each of those is a row of its own) — and written by group commit's statement (round.ts),
 * compare-and-set included. A journal file is dropped only once the database has its advances on disk.
 */
import { InvariantError } from '@netpay/protocol';
import type { StoreState } from './chains.ts';
import type { Journal } from './journal.ts';
import { writeBatch } from './receipts.ts';
import { type Advance, appliedKey } from './round.ts';

/**
 * How often the advances are written behind. Consecutive advances of a chain are merged, so a longer
 * spell writes fewer rows; SQL is current whenever something needs it anyway (drain).
 */
const FLUSH_MS = 500;
/**
 * How often the database is made durable (PGlite does not fsync its files: syncDatabase does) and the
 * journal files it then holds are dropped. Until then a crash or a power loss replays them.
 */
const CHECKPOINT_MS = 10_000;

/** Consecutive advances of one chain, none with payees, as one advance (in order otherwise). */
export function merged(advances: readonly Advance[]): Advance[] {
  const out: Advance[] = [];
  const last = new Map<string, number>();
  for (const a of advances) {
    const k = last.get(a.chainId);
    const prev = k === undefined ? undefined : out[k]!;
    if (prev && prev.payees === undefined && a.payees === undefined && prev.toIndex === a.fromIndex) {
      const payments = (prev.payments ?? 1) + (a.payments ?? 1);
      out[k!] = { ...a, fromIndex: prev.fromIndex, fromPayword: prev.fromPayword, payments };
    } else {
      last.set(a.chainId, out.length);
      out.push(a);
    }
  }
  return out;
}

/** Writes `advances` to SQL; each must apply: the journal's holder is the only writer of its chains. */
export async function writeAll(s: StoreState, advances: readonly Advance[]): Promise<void> {
  const batch = merged(advances);
  const applied = await writeBatch(s, batch);
  const lost = batch.filter((a) => !applied.has(appliedKey(a.chainId, a.toIndex)));
  if (lost.length > 0) {
    throw new InvariantError(
      `the database moved under the journal: ${lost.length} advance(s) not applied (first: chain ${lost[0]!.chainId} from ${lost[0]!.fromIndex}); the journal keeps them`,
    );
  }
}

export interface Behind {
  /** Resolves once every advance accepted so far is in the database. */
  drain(): Promise<void>;
  /** Drains, makes the database durable and drops every journal file; stops the timers. */
  close(): Promise<void>;
}

/**
 * Writes the journal behind into SQL every FLUSH_MS, and every CHECKPOINT_MS makes the database durable
 * (`syncDatabase`) and drops the journal files it then has for good. Without `syncDatabase` (PostgreSQL,
 * durable at commit, or a database in memory) a file is dropped as soon as SQL has it. `recovered`: the
 * files of a journal a crash left, already written into SQL.
 */
export function writeBehind(
  s: StoreState,
  journal: Journal,
  onError: (e: unknown) => void,
  o: { syncDatabase?: () => Promise<void>; recovered?: readonly string[] } = {},
): Behind {
  /** Cut from the journal but not in SQL yet (a failed write keeps them, in order), and their files. */
  let unwritten: Advance[] = [];
  let unwrittenFiles: string[] = [];
  /** In SQL, not yet durable there: dropped at the next checkpoint. */
  let toDrop: string[] = [...(o.recovered ?? [])];
  let flushing: Promise<void> | null = null;
  /** Flushes started, and the last that wrote everything it cut (drain waits for one after its call). */
  let started = 0;
  let completed = 0;

  async function flushOnce() {
    const number = ++started;
    // Nothing durable since the last cut (a drain while idle): no new file for nothing.
    if (journal.pending > 0) {
      const cut = await journal.cut();
      unwritten = unwritten.concat(cut.advances);
      unwrittenFiles = unwrittenFiles.concat(cut.files);
    }
    if (unwritten.length > 0) await writeAll(s, unwritten); // throws: all kept for the next flush
    toDrop = toDrop.concat(unwrittenFiles);
    unwritten = [];
    unwrittenFiles = [];
    completed = number;
    if (!o.syncDatabase) await dropWritten();
  }

  const flush = (): Promise<void> => {
    flushing ??= flushOnce().finally(() => {
      flushing = null;
    });
    return flushing;
  };

  async function dropWritten() {
    const files = toDrop;
    toDrop = [];
    if (files.length === 0) return;
    try {
      await o.syncDatabase?.();
      await journal.drop(files);
    } catch (e) {
      toDrop = files.concat(toDrop);
      throw e;
    }
  }

  let checkpointing: Promise<void> | null = null;
  const checkpoint = () => {
    checkpointing ??= dropWritten().finally(() => {
      checkpointing = null;
    });
    return checkpointing;
  };

  const flushTimer = setInterval(() => {
    if (journal.pending > 0 || unwritten.length > 0) flush().catch(onError);
  }, FLUSH_MS).unref();
  const checkpointTimer = setInterval(() => {
    if (toDrop.length > 0) checkpoint().catch(onError);
  }, CHECKPOINT_MS).unref();

  async function drain() {
    // Appends under way become durable first; then a flush that starts after this point writes them all.
    await journal.settled();
    const after = started;
    while (completed <= after) await flush();
  }

  return {
    drain,
    async close() {
      clearInterval(flushTimer);
      clearInterval(checkpointTimer);
      await drain();
      while (checkpointing) await checkpointing;
      await checkpoint();
    },
  };
}
