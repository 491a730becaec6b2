/**
 * The journal's advances written behind into SQL (journal.ts): every FLUSH_MS, or at once when a reader
 * needs the database to be current (`drain`), the advances made durable since are merged — consecutive
 * advances of one chain become one, since the chain's row keeps only its latest state (not those with
 * payees: each of those is a row of its own) — and written by group commit's statement (round.ts),
 * compare-and-set included. Only once the database has every advance in the journal is it emptied.
 */
import { InvariantError } from '@netpay/protocol';
import type { StoreState } from './chains.ts';
import type { Journal } from './journal.ts';
import { writeBatch } from './receipts.ts';
import { type Advance, appliedKey } from './round.ts';

const FLUSH_MS = 50;

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
  /** An advance now durable in the journal, to be written behind. */
  push(a: Advance): void;
  /** Resolves once every advance appended so far is in the database. */
  drain(): Promise<void>;
}

export function writeBehind(s: StoreState, journal: Journal, onError: (e: unknown) => void): Behind {
  let queue: Advance[] = [];
  /** Advances written to SQL since the journal was last emptied. */
  let written = 0;
  let flushing: Promise<void> | null = null;
  let timer: NodeJS.Timeout | null = null;

  async function flushAll() {
    while (queue.length > 0) {
      const batch = queue;
      queue = [];
      try {
        await writeAll(s, batch);
      } catch (e) {
        queue = batch.concat(queue); // kept: still in the journal, tried again
        throw e;
      }
      written += batch.length;
    }
    if (await journal.truncateIfAllWritten(written)) written = 0;
  }

  const flush = (): Promise<void> => {
    if (timer) clearTimeout(timer);
    timer = null;
    flushing ??= flushAll().finally(() => {
      flushing = null;
    });
    return flushing;
  };

  return {
    push(a) {
      queue.push(a);
      timer ??= setTimeout(() => flush().catch(onError), FLUSH_MS);
    },
    async drain() {
      // Appends under way become durable (and queued) first; then everything queued is written.
      await journal.idle();
      while (flushing || queue.length > 0) await flush();
    },
  };
}
