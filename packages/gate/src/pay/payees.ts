/**
 * Multi-party prices (docs/protocol.md §6.4): the payees a price names must be known to the broker (a
 * price naming any other could never be redeemed, so it takes no money); the store keeps their shares
 * with each payment as canonical JSON.
 */
import type { PayeeShare } from '@netpay/protocol';
import { brokerSaid } from '../broker-client.ts';
import type { GateContext } from '../deps.ts';
import { answer, type GateAnswer } from '../errors.ts';
import type { Price } from '../request.ts';

/** Payees' shares as canonical JSON (what the store keeps with a payment), or none. */
export const payeesJson = (price: Price) =>
  price.payees
    ? JSON.stringify(price.payees.map((p) => ({ payeeId: p.payeeId, share: p.share })))
    : undefined;

/** Checks a price's payees at the broker (once each); the answer refusing the price, or undefined. */
export function createPayeeCheck(ctx: GateContext) {
  const known = new Set<string>([ctx.vendorId]);
  return async function checkPayees(payees: readonly PayeeShare[]): Promise<GateAnswer | undefined> {
    for (const { payeeId } of payees) {
      if (known.has(payeeId)) continue;
      try {
        await ctx.broker.party(payeeId);
        known.add(payeeId);
      } catch (e) {
        if (brokerSaid(e, 404))
          return answer(
            'payee_unknown',
            `payee ${payeeId} is not registered at the broker; this price is misconfigured`,
          );
        return answer('broker_unavailable', 'the broker cannot be reached to check the payees; try again');
      }
    }
    return undefined;
  };
}
