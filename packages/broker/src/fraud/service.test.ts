/** Double-spend detection: which claims are charged back to the chain's owner, and how much. Pure. */
import type { Claim } from '@netpay/protocol';
import { describe, expect, it } from 'vitest';
import { detectDoubleSpend } from './service.ts';

const chain = { chain_id: 'c1', customer_id: 'cust', coin_value: 5n };
const claim = (from: number, to: number) =>
  ({ claimId: 'k2', chainId: 'c1', from: { index: from }, to: { index: to } }) as unknown as Claim;
const earlier = (claim_id: string, from_index: number, to_index: number) => ({
  claim_id,
  from_index,
  to_index,
});

describe('detectDoubleSpend', () => {
  it('finds nothing when no coin of the claim was paid before', () => {
    expect(detectDoubleSpend(chain, claim(4, 8), [])).toBeUndefined();
  });

  it('charges back the coins paid twice (counted once), naming the first conflicting claim', () => {
    const found = detectDoubleSpend(chain, claim(4, 8), [earlier('k1', 2, 6), earlier('r1', 5, 7)]);
    expect(found?.chargeBack).toEqual({ chain, claimId: 'k2', coins: 3, amount: 15n });
    expect(found?.evidence).toMatchObject({ chainId: 'c1', reason: 'double_spend', conflictsWith: 'k1' });
  });
});
