/** Fairness arithmetic (docs/p2p.md §4): allowance, what remains, and the ratio, in bigint. Pure. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allowance, ratio, remaining, withinAllowance } from './fairness.ts';

const p2p = { freeAllowance: 1_000n, supplyFactor: 2 };

describe('fairness', () => {
  it('allows the free allowance plus supplyFactor times the supply', () => {
    expect(allowance(p2p, { supply: 0n, demand: 0n })).toBe(1_000n);
    expect(allowance(p2p, { supply: 200n, demand: 0n })).toBe(1_400n);
    expect(withinAllowance(p2p, { supply: 200n, demand: 500n }, 900n)).toBe(true);
    expect(withinAllowance(p2p, { supply: 200n, demand: 500n }, 901n)).toBe(false);
    expect(remaining(p2p, { supply: 0n, demand: 1_500n })).toBe(0n);
  });

  it('writes supply ÷ demand with two decimals, rounded down, and null while demand is 0', () => {
    expect(ratio({ supply: 0n, demand: 0n })).toBeNull();
    expect(ratio({ supply: 5n, demand: 4n })).toBe('1.25');
    expect(ratio({ supply: 200n, demand: 1_050n })).toBe('0.19');
    expect(ratio({ supply: 0n, demand: 7n })).toBe('0.00');
    expect(ratio({ supply: 2n, demand: 3n })).toBe('0.66');
    expect(ratio({ supply: 10n ** 18n, demand: 1n })).toBe(`${10n ** 18n}.00`);
  });

  it('never reads a ratio above the real one, nor a hundredth below it', () => {
    const amount = fc.bigInt({ min: 0n, max: 2n ** 63n - 1n });
    fc.assert(
      fc.property(amount, fc.bigInt({ min: 1n, max: 2n ** 63n - 1n }), (supply, demand) => {
        const [whole, cents] = ratio({ supply, demand })!.split('.') as [string, string];
        const hundredths = BigInt(whole) * 100n + BigInt(cents);
        // hundredths / 100 ≤ supply / demand < (hundredths + 1) / 100
        expect(hundredths * demand <= supply * 100n).toBe(true);
        expect((hundredths + 1n) * demand > supply * 100n).toBe(true);
      }),
    );
  });

  it('lets a purchase through exactly when what remains covers it', () => {
    const amount = fc.bigInt({ min: 0n, max: 10n ** 15n });
    fc.assert(
      fc.property(amount, amount, amount, fc.integer({ min: 1, max: 100 }), (supply, demand, buy, factor) => {
        const config = { freeAllowance: 100_000n, supplyFactor: factor };
        const f = { supply, demand };
        expect(withinAllowance(config, f, buy)).toBe(
          buy <= remaining(config, f) && demand <= allowance(config, f),
        );
      }),
    );
  });
});
