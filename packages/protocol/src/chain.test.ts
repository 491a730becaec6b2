import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesEqual } from './bytes.ts';
import { chainStep, chainStepper, generateChain, MAX_CHAIN_LENGTH, verifyLink, walkChain } from './chain.ts';
import { InvariantError } from './result.ts';

const id = new Uint8Array(16).fill(9);
const seed = new Uint8Array(32).fill(4);

describe('chain step', () => {
  it('is SHA-256 over tag ‖ chainId ‖ u32be(i) ‖ W(i+1)', () => {
    const next = new Uint8Array(32).fill(0xab);
    const index = Buffer.alloc(4);
    index.writeUInt32BE(0x01020304);
    const expected = createHash('sha256')
      .update(Buffer.from('NetPay/v1/chain', 'ascii'))
      .update(id)
      .update(index)
      .update(next)
      .digest();
    expect(bytesEqual(chainStep(id, 0x01020304, next), expected)).toBe(true);
  });

  it('binds the chain id and the index (domain separation)', () => {
    const next = new Uint8Array(32);
    const other = Uint8Array.from(id);
    other[0]! ^= 1;
    expect(bytesEqual(chainStep(id, 1, next), chainStep(other, 1, next))).toBe(false);
    expect(bytesEqual(chainStep(id, 1, next), chainStep(id, 2, next))).toBe(false);
  });

  it('rejects bad chain ids, lengths and seeds', () => {
    expect(() => chainStepper(new Uint8Array(15))).toThrow(InvariantError);
    expect(() => generateChain(seed, id, 0)).toThrow(InvariantError);
    expect(() => generateChain(seed, id, 1.5)).toThrow(InvariantError);
    expect(() => generateChain(new Uint8Array(31), id, 3)).toThrow(InvariantError);
    expect(MAX_CHAIN_LENGTH).toBe(2 ** 24);
  });
});

describe('generateChain and walkChain', () => {
  it('generates W(0..n) where each value is one step from the next', () => {
    const w = generateChain(seed, id, 12);
    expect(w).toHaveLength(13);
    expect(bytesEqual(w[12]!, chainStep(id, 12, seed))).toBe(true);
    for (let i = 0; i < 12; i++) expect(bytesEqual(w[i]!, chainStep(id, i, w[i + 1]!))).toBe(true);
    const step = chainStepper(id);
    expect(bytesEqual(walkChain(step, 12, w[12]!, 12), w[0]!)).toBe(true);
    expect(bytesEqual(walkChain(step, 7, w[7]!, 0), w[7]!)).toBe(true);
  });
});

describe('verifyLink', () => {
  const w = generateChain(seed, id, 50);
  const step = chainStepper(id);
  const rule = { n: 50, maxSteps: 10 };
  const at = (index: number) => ({ index, payword: w[index]! });

  it('accepts W(j) that leads to W(i) in j − i steps', () => {
    expect(verifyLink(step, at(0), at(1), rule).ok).toBe(true);
    expect(verifyLink(step, at(3), at(13), rule).ok).toBe(true);
    expect(verifyLink(step, at(49), at(50), rule).ok).toBe(true);
  });

  it('rejects j ≤ i, j > n, too many coins and wrong paywords with typed errors', () => {
    const code = (r: ReturnType<typeof verifyLink>) => (r.ok ? 'ok' : r.error.code);
    expect(code(verifyLink(step, at(5), at(5), rule))).toBe('index_not_advancing');
    expect(code(verifyLink(step, at(5), at(4), rule))).toBe('index_not_advancing');
    expect(code(verifyLink(step, at(45), { index: 51, payword: w[50]! }, rule))).toBe('index_out_of_range');
    expect(code(verifyLink(step, at(0), at(11), rule))).toBe('too_many_coins');
    expect(code(verifyLink(step, at(0), { index: 2, payword: w[1]! }, rule))).toBe('payword_invalid');
    expect(code(verifyLink(step, at(0), { index: 1, payword: new Uint8Array(31) }, rule))).toBe(
      'payword_invalid',
    );
  });

  it('rejects any single-bit change to a payword (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 0, max: 255 }), (j, bit) => {
        const bad = Uint8Array.from(w[j]!);
        bad[bit >> 3]! ^= 1 << (bit & 7);
        const r = verifyLink(step, at(Math.max(0, j - 10)), { index: j, payword: bad }, rule);
        expect(r.ok ? 'ok' : r.error.code).toBe('payword_invalid');
      }),
    );
  });
});
