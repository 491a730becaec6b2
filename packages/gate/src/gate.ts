/**
 * The NetPay payment gate (docs/protocol.md §6–§9): one object a web framework's adapter (http/) calls
 * around a priced route. It is only the composition of the flows, each in its folder:
 *
 *   pay/            begin (header → hold chains → verify coins → receipt) and finish (commit or release)
 *   chains/         holding a chain under the broker's lease, hand-over in and out, the broker's keys
 *   server-wallet/  paying from the customer's broker account instead of coins, and its sign-in routes
 *   http/           the Express, Fastify and Hono adapters and the core they share (reply.ts, page.ts)
 *   store/          the chains, coins and receipts on disk (store.ts, migrations/)
 *   redeem/         the redeemer that turns accepted coins into money at the broker
 *
 * Everything injected is named in deps.ts; every code and its status in errors.ts.
 */
import { DEFAULT_HANDOVER_PATH } from '@netpay/api';
import { brokerKeyring } from '@netpay/protocol';
import { createHandoverServer } from './chains/handover-out.ts';
import { type GateOptions, gateContext } from './deps.ts';
import type { GateAnswer } from './errors.ts';
import { answerPage } from './http/page.ts';
import { createBegin } from './pay/begin.ts';
import { createFinish } from './pay/finish.ts';
import { terms } from './pay/terms.ts';
import type { GateRequest, Price } from './request.ts';
import { walletRoute } from './server-wallet/routes.ts';

export { leaseEnd } from './chains/lease.ts';
export { DEFAULT_WALLET_PATH, type FrozenPeers, type GateOptions } from './deps.ts';
export * from './errors.ts';
export type { Finished } from './pay/finish.ts';
export type { Begun, Ticket } from './pay/ticket.ts';
export { type GateRequest, type Price, RECEIPT_SIGNATURE_HEADER } from './request.ts';
export { WALLET_RECEIPT_HEADER } from './server-wallet/charge.ts';
export type { RouteAnswer } from './server-wallet/routes.ts';
export { DEFAULT_HANDOVER_PATH };

export function createGate(o: GateOptions) {
  const ctx = gateContext(o);
  return {
    /** Starts a paid request: a ticket to run the handler under, or the gate's own answer (402, 4xx). */
    begin: createBegin(ctx),
    /** Ends it: commits the coins (the receipt header) when the handler succeeded, else charges nothing. */
    finish: createFinish(ctx),
    /** The HTML page for an answer with terms, for a browser; undefined for others. */
    answerPage: (a: GateAnswer) => answerPage(ctx.cur, a),
    /** The hand-over route's handler (another vendor, or the broker for a refund, asks for a chain). */
    serveHandover: createHandoverServer(ctx),
    /** The server-side wallet's sign-in routes (signin, callback, signout). */
    walletRoute: (route: string, query: Record<string, unknown>, headers?: GateRequest['headers']) =>
      walletRoute(ctx, route, query, headers),
    walletPath: ctx.walletPath,
    terms: (price: Price, req: GateRequest) => terms(ctx, price, req),
    keyring: () => brokerKeyring(ctx.keys.list()),
    /**
     * Fetches the broker's keys now: a peer does at start, so that it checks touchstones offline from
     * then on (a key it does not know yet is fetched when first met).
     */
    loadKeys: () => ctx.keys.refresh(),
  };
}

export type Gate = ReturnType<typeof createGate>;
