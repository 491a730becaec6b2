/**
 * What redemption tells those who ask: a party's statement (its balance, what it redeemed, its payouts)
 * and, for the operator, one chain's money account (docs/protocol.md §8.9, I2 and I3).
 */
import { chainSize } from '../directory/store.ts';
import { payoutsOf, payoutTotals } from '../settlement/store.ts';
import type { RedemptionDeps } from './deps.ts';
import { coveredCoins } from './ranges.ts';
import { chainRanges, redeemedTotals } from './store.ts';

/**
 * A party's balance, its redemption totals, what was paid out and is pending in all, and its newest
 * payouts, newest first (GET /parties/me/statement).
 */
export async function statement(d: Pick<RedemptionDeps, 'db' | 'parties'>, partyId: string) {
  const party = await d.parties.get(partyId);
  const totals = await redeemedTotals(d.db, partyId);
  const payouts = await payoutsOf(d.db, partyId);
  const paid = await payoutTotals(d.db, partyId);
  return {
    partyId,
    balance: party.balance,
    redeemed: {
      claims: Number(totals?.claims ?? 0n),
      coins: Number(totals?.coins ?? 0n),
      amount: (totals?.amount ?? 0n).toString(),
      fees: (totals?.fees ?? 0n).toString(),
    },
    paidOut: paid.sent.toString(),
    payoutsPending: paid.pending.toString(),
    payouts: payouts.map((p) => ({
      id: p.id,
      amount: p.amount.toString(),
      status: p.status,
      createdAt: new Date(Number(p.created_at)).toISOString(),
      completedAt: p.completed_at === null ? null : new Date(Number(p.completed_at)).toISOString(),
    })),
  };
}

/**
 * One chain's money (docs/protocol.md §8.9, I2 and I3), in minor units: bought = n × coinValue; credited
 * (redeemed, gross) and refunded; charged back; unspent (coins neither credited nor refunded); and the
 * coins paid out more than once. `balanced`: bought + chargedBack = credited + refunded + unspent, and
 * every coin paid twice was charged back.
 */
export async function chainAccount(d: Pick<RedemptionDeps, 'db' | 'fraud'>, chainId: string) {
  const c = await chainSize(d.db, chainId);
  if (!c) return undefined;
  const ranges = await chainRanges(d.db, chainId);
  const cb = await d.fraud.chargedBack(chainId);
  const sum = (kind: string) => ranges.filter((r) => r.kind === kind).reduce((a, r) => a + r.amount, 0n);
  const distinct = coveredCoins(ranges, 0, c.n);
  const doubledCoins = ranges.reduce((a, r) => a + (r.to_index - r.from_index), 0) - distinct;
  const bought = BigInt(c.n) * c.coin_value;
  const credited = sum('redemption');
  const refunded = sum('refund');
  const unspent = BigInt(c.n - distinct) * c.coin_value;
  return {
    chainId,
    status: c.status,
    bought: bought.toString(),
    credited: credited.toString(),
    refunded: refunded.toString(),
    chargedBack: cb.amount.toString(),
    unspent: unspent.toString(),
    doubledCoins,
    chargedBackCoins: cb.coins,
    balanced: bought + cb.amount === credited + refunded + unspent && doubledCoins === cb.coins,
  };
}
