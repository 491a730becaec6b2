/**
 * The vendor's statement: its own accounts (the store's) beside its account at the broker, and whether
 * the two agree on what was credited.
 */
import type { BrokerClient } from '../broker-client.ts';
import type { RedeemerDeps } from './deps.ts';

/** The vendor's account at the broker, as the statement shows it (minor units as decimal strings). */
export interface BrokerPart {
  balance: string;
  paidOut: string;
  payoutsPending: string;
  credited: string;
  /** Whether the broker's record of what it credited this vendor matches the vendor's own. */
  matches: boolean;
}

/**
 * The vendor's statement: what it accepted and what the broker credited (from its own records), and its
 * account at the broker — the balance waiting for payout and what was paid out. The broker part is null
 * when the broker cannot be reached.
 */
export async function statement(d: RedeemerDeps) {
  const local = await d.store.statement();
  let broker: BrokerPart | null = null;
  try {
    broker = brokerPart(await d.broker.statement(), local.redeemed);
  } catch {
    // unreachable: the local part stands on its own
  }
  return { vendorId: d.vendorId, ...local, broker };
}

function brokerPart(s: Awaited<ReturnType<BrokerClient['statement']>>, redeemed: string): BrokerPart {
  return {
    balance: s.balance.toString(),
    // The broker's totals: its list of payouts holds only the newest.
    paidOut: s.paidOut,
    payoutsPending: s.payoutsPending,
    credited: s.redeemed.amount,
    matches: s.redeemed.amount === redeemed,
  };
}
