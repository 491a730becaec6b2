import backend from '#crypto';
import { bytesEqual, utf8 } from './bytes.ts';
import { err, InvariantError, ok, type Result } from './result.ts';

/**
 * Hash chains (docs/protocol.md §3). W(n+1) is a random 32-byte seed; for i = n … 0
 *   W(i) = SHA-256("NetPay/v1/chain" ‖ chainId ‖ u32be(i) ‖ W(i+1)).
 * W(0) is the root signed in the touchstone; W(1) … W(n) are the coins, spent in that order.
 */
export const CHAIN_TAG = utf8('NetPay/v1/chain');
export const CHAIN_ID_BYTES = 16;
export const PAYWORD_BYTES = 32;
export const SEED_BYTES = 32;
/** Longest chain the protocol accepts: 2^24 coins. */
export const MAX_CHAIN_LENGTH = 2 ** 24;

const TAG_END = CHAIN_TAG.length;
const INDEX_AT = TAG_END + CHAIN_ID_BYTES;
const WORD_AT = INDEX_AT + 4;
const STEP_INPUT_BYTES = WORD_AT + PAYWORD_BYTES;

/**
 * A chain-step function bound to one chain id, reusing one input buffer (the hot path of every check).
 * `walk` hashes several steps in place without allocating per step.
 */
export interface ChainStep {
  (index: number, next: Uint8Array): Uint8Array;
  /** W(from − steps) from W(from). */
  walk(from: number, word: Uint8Array, steps: number): Uint8Array;
}

export function chainStepper(chainId: Uint8Array): ChainStep {
  if (chainId.length !== CHAIN_ID_BYTES) throw new InvariantError('a chain id is 16 bytes');
  const input = backend.allocBytes(STEP_INPUT_BYTES);
  input.set(CHAIN_TAG, 0);
  input.set(chainId, TAG_END);
  const view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  const wordOut = () => {
    const out = new Uint8Array(PAYWORD_BYTES);
    for (let b = 0; b < PAYWORD_BYTES; b++) out[b] = input[WORD_AT + b]!;
    return out;
  };
  const step = (index: number, next: Uint8Array) => {
    view.setUint32(INDEX_AT, index);
    input.set(next, WORD_AT);
    backend.sha256Into(input, input, WORD_AT);
    return wordOut();
  };
  step.walk = (from: number, word: Uint8Array, steps: number) => {
    input.set(word, WORD_AT);
    for (let i = from - 1; i >= from - steps; i--) {
      view.setUint32(INDEX_AT, i);
      backend.sha256Into(input, input, WORD_AT);
    }
    return wordOut();
  };
  return step;
}

/** W(index) from W(index + 1). */
export function chainStep(chainId: Uint8Array, index: number, next: Uint8Array): Uint8Array {
  return chainStepper(chainId)(index, next);
}

export function assertChainLength(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > MAX_CHAIN_LENGTH) {
    throw new InvariantError(`chain length must be an integer in 1..${MAX_CHAIN_LENGTH}, got ${n}`);
  }
}

/** Hashes W(from) down `steps` times, giving W(from − steps). */
export function walkChain(step: ChainStep, from: number, word: Uint8Array, steps: number): Uint8Array {
  return step.walk(from, word, steps);
}

/** Every value W(0) … W(n) of a chain (index = position). For tests, vectors and short chains only. */
export function generateChain(seed: Uint8Array, chainId: Uint8Array, n: number): Uint8Array[] {
  assertChainLength(n);
  if (n > 2 ** 20)
    throw new InvariantError('generateChain keeps every value: use createTraversal for long chains');
  if (seed.length !== SEED_BYTES) throw new InvariantError('a chain seed is 32 bytes');
  const step = chainStepper(chainId);
  const out = new Array<Uint8Array>(n + 1);
  let w = seed;
  for (let i = n; i >= 0; i--) {
    w = step(i, w);
    out[i] = w;
  }
  return out;
}

export interface ChainPoint {
  readonly index: number;
  readonly payword: Uint8Array;
}

export interface LinkRule {
  /** Chain length n from the touchstone. */
  readonly n: number;
  /** Most coins one payment or claim may advance (j − i). */
  readonly maxSteps: number;
}

/**
 * Checks that `candidate` = W(j) leads to the known W(i) in j − i steps, with i < j ≤ n and
 * j − i ≤ maxSteps. Costs j − i hashes and never throws.
 */
export function verifyLink(
  step: ChainStep,
  known: ChainPoint,
  candidate: ChainPoint,
  rule: LinkRule,
): Result<void> {
  const { index: i } = known;
  const { index: j } = candidate;
  if (j <= i) return err('index_not_advancing', `index ${j} does not advance past ${i}`);
  if (j > rule.n) return err('index_out_of_range', `index ${j} is beyond the chain length ${rule.n}`);
  if (j - i > rule.maxSteps) {
    return err('too_many_coins', `${j - i} coins in one step exceeds the limit of ${rule.maxSteps}`);
  }
  if (candidate.payword.length !== PAYWORD_BYTES) return err('payword_invalid', 'a payword is 32 bytes');
  if (!bytesEqual(walkChain(step, j, candidate.payword, j - i), known.payword)) {
    return err('payword_invalid', `payword for index ${j} does not hash to the accepted index ${i}`);
  }
  return ok(undefined);
}
