/** The range arithmetic of redemption and fraud detection: pure, no database. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { anchorFor, coveredCoins, overlapping, type RangeRow } from './ranges.ts';

const span = (from_index: number, to_index: number) => ({ from_index, to_index });

/** The coins (from, to] the ranges cover, counted one by one. */
function countOneByOne(
  ranges: readonly { from_index: number; to_index: number }[],
  from: number,
  to: number,
) {
  let n = 0;
  for (let coin = from + 1; coin <= to; coin++) {
    if (ranges.some((r) => r.from_index < coin && coin <= r.to_index)) n++;
  }
  return n;
}

describe('coveredCoins', () => {
  it('counts coins covered twice once, and only inside (from, to]', () => {
    expect(coveredCoins([span(0, 5), span(3, 8)], 0, 10)).toBe(8);
    expect(coveredCoins([span(0, 5), span(3, 8)], 4, 6)).toBe(2);
    expect(coveredCoins([span(0, 2), span(5, 7)], 2, 5)).toBe(0);
    expect(coveredCoins([], 0, 10)).toBe(0);
  });

  it('equals counting the coins one by one', () => {
    const range = fc
      .tuple(fc.nat(40), fc.integer({ min: 1, max: 20 }))
      .map(([from, len]) => span(from, from + len));
    fc.assert(
      fc.property(fc.array(range, { maxLength: 8 }), range, (ranges, q) => {
        expect(coveredCoins(ranges, q.from_index, q.to_index)).toBe(
          countOneByOne(ranges, q.from_index, q.to_index),
        );
      }),
    );
  });
});

describe('overlapping', () => {
  it('keeps the ranges sharing at least one coin; touching ends share none', () => {
    const ranges = [span(0, 3), span(3, 5), span(5, 9), span(9, 12)];
    expect(overlapping(ranges, 4, 9)).toEqual([span(3, 5), span(5, 9)]);
  });
});

describe('anchorFor', () => {
  const touchstone = { root: 'AAAA' } as Parameters<typeof anchorFor>[0];
  const row = (kind: RangeRow['kind'], from: number, to: number, payword: string | null): RangeRow => ({
    claim_id: `${kind}${from}`,
    chain_id: 'c',
    party_id: 'v',
    kind,
    from_index: from,
    to_index: to,
    to_payword: payword,
    amount: 1n,
    fee: 0n,
  });

  it('starts at the highest redeemed end at or below the claim, else the root', () => {
    const ranges = [
      row('redemption', 0, 4, 'BBBB'),
      row('redemption', 4, 6, 'CCCC'),
      row('refund', 6, 10, null),
    ];
    expect(anchorFor(touchstone, ranges, 7).index).toBe(6);
    expect(anchorFor(touchstone, ranges, 5).index).toBe(4);
    expect(anchorFor(touchstone, ranges, 3).index).toBe(0);
    expect(anchorFor(touchstone, [row('refund', 0, 4, null)], 5).index).toBe(0);
  });
});
