import { z } from 'zod';
import { fromBase64url, toBase64url } from './bytes.ts';
import { assertChainLength, type ChainStep, chainStepper, MAX_CHAIN_LENGTH, SEED_BYTES } from './chain.ts';
import { ChainIdSchema, ChainLengthSchema, PaywordSchema } from './messages.ts';
import { err, InvariantError, ok, type Result } from './result.ts';

/**
 * Wallet-side traversal of a chain: emits W(1), W(2), … W(n) in order while storing O(log n) hashes,
 * using optimal binary pebbling (B. Schoenmakers, "Explicit optimal binary pebbling for one-way hash chain
 * reversal", FC 2016): with k = ⌈log2 n⌉, at most k + 1 stored hashes and at most ⌈k/2⌉ hashes per payword.
 *
 * Pebbling reverses a sequence x_0 → x_1 → … where x_0 is computed first. Here x_t = W(n − t): x_0 = W(n)
 * comes straight from the seed and the wallet emits x_{n−1} = W(1) first. The schedule is defined for
 * lengths 2^k; a chain of n < 2^k coins is placed at the end of a virtual chain of 2^k positions, offset
 * by d = 2^k − n. A pebble at a virtual position p ≤ d holds x_0 and moves up to d without hashing, so a
 * shorter chain never does more work than the 2^k schedule. Positions are tracked explicitly for this.
 */

export interface Pebble {
  /** Virtual position in 0 … 2^k − 1. */
  pos: number;
  value: Uint8Array;
}

interface Job {
  /** Pebble slot the job is writing (moves down one level each time a level is complete). */
  level: number;
  /** Hashes left at the current level. */
  left: number;
}

interface TraversalCore {
  readonly chainId: Uint8Array;
  readonly n: number;
  readonly k: number;
  readonly offset: number;
  /** Coins emitted so far: the next payword is W(emitted + 1). */
  emitted: number;
  /** Round counter of the output stage, from 2^k − 1 down to 1. */
  round: number;
  /** The first payword W(1), held until emitted. */
  first: Pebble | null;
  slots: Pebble[];
  jobs: Job[];
}

const Count = z.number().int().min(0).max(MAX_CHAIN_LENGTH);
const StoredPebbleSchema = z.tuple([Count, PaywordSchema]);

/** Stored wallet data: validated like any other input before a traversal resumes from it. */
export const SerializedTraversalSchema = z.strictObject({
  version: z.literal(1),
  chainId: ChainIdSchema,
  n: ChainLengthSchema,
  emitted: Count,
  round: Count,
  first: StoredPebbleSchema.nullable(),
  pebbles: z.array(StoredPebbleSchema).max(32),
  slots: z.array(z.number().int().min(0).max(31)).max(32),
  jobs: z.array(z.tuple([z.number().int().min(0).max(32), Count])).max(32),
});

export type SerializedTraversal = z.infer<typeof SerializedTraversalSchema>;

export interface TraversalStats {
  /** Hashes computed by the most recent `next()`. */
  lastHashes: number;
  /** Distinct hash values held right now (including the pending first payword). */
  stored: number;
}

export class ChainTraversal {
  private readonly step: ChainStep;
  private hashesThisCall = 0;

  private constructor(private readonly s: TraversalCore) {
    this.step = chainStepper(s.chainId);
  }

  /** Builds the chain from its seed (n hashes, once) and returns the traversal and the root W(0). */
  static create(
    seed: Uint8Array,
    chainId: Uint8Array,
    n: number,
    onProgress?: (done: number, total: number) => void,
  ): { traversal: ChainTraversal; root: Uint8Array } {
    assertChainLength(n);
    if (seed.length !== SEED_BYTES) throw new InvariantError('a chain seed is 32 bytes');
    const k = n === 1 ? 0 : Math.ceil(Math.log2(n));
    const size = 2 ** k;
    const offset = size - n;
    const step = chainStepper(chainId);
    // Slot j (0 … k−1) starts at virtual position 2^k − 2^(j+1).
    const slots: Pebble[] = new Array(k);
    let w = step(n, seed); // x_0 = W(n)
    // Slots whose position is at or before the chain's start hold x_0; the rest are filled on the way up.
    let j = k - 1;
    for (; j >= 0 && size - 2 ** (j + 1) <= offset; j--) slots[j] = { pos: size - 2 ** (j + 1), value: w };
    const progressEvery = 1 << 16;
    for (let t = 1; t < n; t++) {
      w = step(n - t, w);
      if (j >= 0 && t + offset === size - 2 ** (j + 1)) {
        slots[j] = { pos: t + offset, value: w };
        j--;
      }
      if (onProgress && t % progressEvery === 0) onProgress(t, n + 1);
    }
    // w is now x_{n−1} = W(1); one more step gives the root W(0).
    const root = step(0, w);
    onProgress?.(n + 1, n + 1);
    const core: TraversalCore = {
      chainId: Uint8Array.from(chainId),
      n,
      k,
      offset,
      emitted: 0,
      round: size - 1,
      first: { pos: size - 1, value: w },
      slots,
      jobs: [],
    };
    return { traversal: new ChainTraversal(core), root };
  }

  get n(): number {
    return this.s.n;
  }

  get chainId(): Uint8Array {
    return this.s.chainId;
  }

  /** Coins already emitted; the next call to `next()` returns W(emitted + 1). */
  get emitted(): number {
    return this.s.emitted;
  }

  get remaining(): number {
    return this.s.n - this.s.emitted;
  }

  stats(): TraversalStats {
    const distinct = new Set<Uint8Array>(this.s.slots.map((p) => p.value));
    if (this.s.first) distinct.add(this.s.first.value);
    return { lastHashes: this.hashesThisCall, stored: distinct.size };
  }

  /** The next payword W(emitted + 1) with its index, or undefined once all n coins are out. */
  next(): { index: number; payword: Uint8Array } | undefined {
    const s = this.s;
    this.hashesThisCall = 0;
    if (s.emitted >= s.n) return undefined;
    s.emitted++;
    if (s.first) {
      const value = s.first.value;
      s.first = null;
      return { index: s.emitted, payword: value };
    }
    const out = s.slots[0]!;
    if (out.pos !== s.round - 1) throw new InvariantError('traversal schedule out of step');
    const value = out.value;
    if (s.emitted < s.n) this.advanceRound();
    s.round--;
    return { index: s.emitted, payword: value };
  }

  /** Moves the pebble forward by one position (a real hash only at or past the chain's start). */
  private advance(p: Pebble): Pebble {
    const pos = p.pos + 1;
    const s = this.s;
    if (pos <= s.offset) return { pos, value: p.value };
    this.hashesThisCall++;
    // Virtual position pos is real position t = pos − offset, i.e. W(n − t).
    return { pos, value: this.step(s.n - (pos - s.offset), p.value) };
  }

  /** The bookkeeping and hashing of one output round (the schedule of the optimal binary pebbler). */
  private advanceRound(): void {
    const s = this.s;
    const z = s.slots;
    let c = s.round;
    let level = 0;
    while ((c & 1) === 0) {
      z[level] = z[level + 1]!;
      level++;
      c >>>= 1;
    }
    level++;
    c >>>= 1;
    if (c & 1) s.jobs.push({ level, left: 0 });
    let u = s.jobs.length;
    let budget = (s.round & 1) + level + 1;
    while (c !== 0) {
      while ((c & 1) === 0) {
        budget++;
        c >>>= 1;
      }
      u--;
      const job = s.jobs[u]!;
      for (let h = budget >> 1; h > 0; h--) {
        const from = z[job.level]!;
        if (job.left === 0) {
          job.level--;
          job.left = 2 ** job.level;
        }
        z[job.level] = this.advance(from);
        job.left--;
      }
      if (job.level === 0) s.jobs.splice(u, 1);
      budget &= 1;
      while ((c & 1) === 1) {
        budget++;
        c >>>= 1;
      }
    }
  }

  toJSON(): SerializedTraversal {
    const s = this.s;
    const pebbles: [number, string][] = [];
    const seen = new Map<Pebble, number>();
    const slots = s.slots.map((p) => {
      let i = seen.get(p);
      if (i === undefined) {
        i = pebbles.push([p.pos, toBase64url(p.value)]) - 1;
        seen.set(p, i);
      }
      return i;
    });
    return {
      version: 1,
      chainId: toBase64url(s.chainId),
      n: s.n,
      emitted: s.emitted,
      round: s.round,
      first: s.first ? [s.first.pos, toBase64url(s.first.value)] : null,
      pebbles,
      slots,
      jobs: s.jobs.map((j) => [j.level, j.left]),
    };
  }

  /** Resumes a traversal exactly where `toJSON()` left it. Rejects anything inconsistent. Never throws. */
  static fromJSON(data: unknown): Result<ChainTraversal> {
    const parsed = SerializedTraversalSchema.safeParse(data);
    if (!parsed.success)
      return err('malformed', `traversal state: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    const d = parsed.data;
    const k = d.n === 1 ? 0 : Math.ceil(Math.log2(d.n));
    const size = 2 ** k;
    const bad = (why: string) => err('malformed', `traversal state: ${why}`);
    const pebble = ([pos, value]: readonly [number, string]): Pebble | undefined =>
      pos < size ? { pos, value: fromBase64url(value)! } : undefined;
    const pebbles = d.pebbles.map(pebble);
    const first = d.first === null ? null : pebble(d.first);
    if (pebbles.includes(undefined) || first === undefined) return bad('pebble position beyond the chain');
    if (d.round >= size || d.slots.length !== k || d.pebbles.length > k || d.jobs.length > k) {
      return bad('does not fit a chain of this length');
    }
    const slots: Pebble[] = [];
    for (const i of d.slots) {
      const p = pebbles[i];
      if (!p) return bad('slot refers to a missing pebble');
      slots.push(p);
    }
    if (d.jobs.some(([level, left]) => level > k || left > size)) return bad('job out of range');
    if ((d.emitted === 0) !== (first !== null))
      return bad('first payword pending only before the first coin');
    if (d.emitted > d.n) return bad('more coins emitted than the chain has');
    if (d.emitted > 0 && d.emitted < d.n && slots[0]?.pos !== d.round - 1) return bad('schedule position');
    return ok(
      new ChainTraversal({
        chainId: fromBase64url(d.chainId)!,
        n: d.n,
        k,
        offset: size - d.n,
        emitted: d.emitted,
        round: d.round,
        first,
        slots,
        jobs: d.jobs.map(([level, left]) => ({ level, left })),
      }),
    );
  }
}
