/**
 * The second half of a paid request (docs/protocol.md §6.5, §7.4). `succeeded` false (the handler
 * answered ≥ 400 or threw): nothing is charged. Otherwise the coins are committed before the response
 * leaves, under a lease still valid; a conflict (another instance took the same coins) turns the response
 * into a 409. The receipt goes back in `NetPay-Receipt`.
 */
import { encodeHeader, encodeX402Header, HEADERS, X402_HEADERS, x402Network } from '@netpay/protocol';
import type { GateContext } from '../deps.ts';
import { answer, type GateAnswer } from '../errors.ts';
import { finishWallet } from '../server-wallet/charge.ts';
import type { CoinTicket, Ticket } from './ticket.ts';
import { receiptHeader } from './wire.ts';

export type Finished = { headers: Record<string, string> } | { answer: GateAnswer };

export function createFinish(ctx: GateContext) {
  return async function finish(ticket: Ticket, succeeded: boolean): Promise<Finished> {
    try {
      if (ticket.wallet) return await finishWallet(ctx, ticket.wallet, succeeded, ticket.payees);
      if (ticket.replay) return withReceipt(ctx, ticket);
      if (!succeeded) return { headers: {} };
      return await commit(ctx, ticket);
    } finally {
      ticket.release();
    }
  };
}

async function commit(ctx: GateContext, ticket: CoinTicket): Promise<Finished> {
  // A coin is accepted only under a valid lease: one that ran out while the handler ran charges nothing.
  if (ticket.advances.some((a) => !ctx.store.mayCommit(a.chain.chainId, ctx.clock()))) {
    return {
      answer: answer(
        'lease_lost',
        "this vendor's hold on the chain ended meanwhile; nothing was charged, retry",
      ),
    };
  }
  const committed = await ctx.store.commitAll(
    ticket.advances.map((a) => ({
      chainId: a.chain.chainId,
      fromIndex: a.fromIndex,
      fromPayword: a.fromPayword,
      toIndex: a.toIndex,
      payword: a.payword,
      ...(a.evidence ? { evidence: a.evidence } : {}),
      ...(ticket.payees ? { payees: ticket.payees } : {}),
      receipt: { receipt: ticket.receipt, resource: ticket.resource },
    })),
  );
  if (!committed) {
    return {
      answer: answer(
        'payment_conflict',
        'these coins were accepted elsewhere at the same moment; nothing was charged',
      ),
    };
  }
  return withReceipt(ctx, ticket);
}

const RECEIPT = HEADERS.receipt.toLowerCase();
const X402_RESPONSE = X402_HEADERS.response.toLowerCase();

/**
 * A signed receipt (asked for, or a replay's) through the general encoder; the usual one from its template.
 * Paid through x402: its `PAYMENT-RESPONSE` too, whose `transaction` is the receipt header's value.
 */
const withReceipt = (ctx: GateContext, ticket: CoinTicket) => {
  const receipt = ticket.receipt.sig ? encodeHeader(ticket.receipt) : receiptHeader(ticket.receipt);
  return {
    headers: {
      [RECEIPT]: receipt,
      ...(ticket.x402 ? { [X402_RESPONSE]: x402Response(ctx, ticket, receipt) } : {}),
    },
  };
};

/** The x402 settle response for a paid request: success, the receipt as its transaction. */
function x402Response(ctx: GateContext, ticket: CoinTicket, header: string): string {
  const brokerId = ticket.advances[0]?.chain.touchstone.brokerId ?? ctx.keys.current()[0]?.brokerId;
  return encodeX402Header({
    success: true,
    transaction: header,
    network: x402Network(brokerId ?? 'unknown'),
    amount: ticket.receipt.amount,
  });
}
