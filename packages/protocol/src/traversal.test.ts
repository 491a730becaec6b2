import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesEqual } from './bytes.ts';
import { generateChain } from './chain.ts';
import { randomBytes } from './sign.ts';
import { ChainTraversal } from './traversal.ts';

function bounds(n: number) {
  const k = n === 1 ? 0 : Math.ceil(Math.log2(n));
  return { stored: k + 1, hashes: Math.ceil(k / 2) };
}

describe('ChainTraversal', () => {
  it('emits W(1) … W(n) in order within the storage and work bounds, for every n up to 520', () => {
    for (let n = 1; n <= 520; n++) {
      const seed = randomBytes(32);
      const id = randomBytes(16);
      const words = generateChain(seed, id, n);
      const { traversal, root } = ChainTraversal.create(seed, id, n);
      expect(bytesEqual(root, words[0]!)).toBe(true);
      const limit = bounds(n);
      let peakStored = traversal.stats().stored;
      let peakHashes = 0;
      for (let i = 1; i <= n; i++) {
        const out = traversal.next()!;
        // Plain checks in this loop of 135,000 steps: an expect() each costs more than the traversal.
        if (out.index !== i) throw new Error(`n=${n}: index ${out.index} at step ${i}`);
        if (!bytesEqual(out.payword, words[i]!)) throw new Error(`n=${n}: wrong payword at ${i}`);
        const s = traversal.stats();
        peakStored = Math.max(peakStored, s.stored);
        peakHashes = Math.max(peakHashes, s.lastHashes);
      }
      expect(traversal.next()).toBeUndefined();
      expect(traversal.remaining).toBe(0);
      expect(peakStored, `n=${n} stored`).toBeLessThanOrEqual(limit.stored);
      expect(peakHashes, `n=${n} hashes per payword`).toBeLessThanOrEqual(limit.hashes);
    }
  });

  it('matches the generated chain for random n up to 2^16, resuming from JSON at random points (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 16 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 4 }),
        (n, cuts) => {
          const seed = randomBytes(32);
          const id = randomBytes(16);
          const words = generateChain(seed, id, n);
          const resumeAt = new Set(cuts.map((c) => Math.floor(c * n)));
          let { traversal } = ChainTraversal.create(seed, id, n);
          for (let i = 1; i <= n; i++) {
            if (resumeAt.has(i - 1)) {
              const restored = ChainTraversal.fromJSON(JSON.parse(JSON.stringify(traversal)));
              if (!restored.ok) throw new Error(restored.error.message);
              traversal = restored.value;
              expect(traversal.emitted).toBe(i - 1);
            }
            const out = traversal.next()!;
            if (out.index !== i || !bytesEqual(out.payword, words[i]!))
              throw new Error(`n=${n}: mismatch at ${i}`);
          }
          expect(traversal.next()).toBeUndefined();
        },
      ),
      { numRuns: 25 },
    );
  });

  it('serializes only its pebbles: at most ⌈log2 n⌉ + 1 hashes in the JSON', () => {
    const n = 5000;
    const { traversal } = ChainTraversal.create(randomBytes(32), randomBytes(16), n);
    for (let i = 0; i < 1234; i++) traversal.next();
    const json = traversal.toJSON();
    expect(json.pebbles.length + (json.first ? 1 : 0)).toBeLessThanOrEqual(Math.ceil(Math.log2(n)) + 1);
    expect(json.emitted).toBe(1234);
  });

  it('rejects malformed or inconsistent state with a typed error, never an exception', () => {
    const { traversal } = ChainTraversal.create(randomBytes(32), randomBytes(16), 100);
    traversal.next();
    traversal.next();
    const good = traversal.toJSON();
    const bads: unknown[] = [
      null,
      42,
      'x',
      {},
      { ...good, version: 2 },
      { ...good, n: 0 },
      { ...good, n: 2 ** 24 + 1 },
      { ...good, chainId: 'short' },
      { ...good, emitted: 0 },
      { ...good, emitted: 101 },
      { ...good, round: good.round + 1 },
      { ...good, slots: good.slots.slice(1) },
      { ...good, slots: good.slots.map(() => 99) },
      { ...good, pebbles: [[0, 'AAAA']] },
      { ...good, jobs: [[99, 1]] },
      { ...good, extra: true },
    ];
    for (const bad of bads) {
      const r = ChainTraversal.fromJSON(bad);
      expect(r.ok, JSON.stringify(bad)?.slice(0, 80)).toBe(false);
      if (!r.ok) expect(r.error.code).toBe('malformed');
    }
    fc.assert(
      fc.property(fc.anything(), (junk) => {
        expect(() => ChainTraversal.fromJSON(junk)).not.toThrow();
      }),
    );
  });

  it('reports progress while building a chain', () => {
    const seen: number[] = [];
    ChainTraversal.create(randomBytes(32), randomBytes(16), 3 * 65_536, (done) => seen.push(done));
    expect(seen.length).toBeGreaterThanOrEqual(3);
    expect(seen.at(-1)).toBe(3 * 65_536 + 1);
  });
});
