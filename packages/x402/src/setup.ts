/**
 * One call for a vendor on x402: the resource server with the NetPay scheme registered and the in-process
 * facilitator (no HTTP facilitator, no network call), and the payment option to put in a route's
 * `accepts`:
 *
 *   const netpay = await netpayX402({ vendor });      // vendor: openVendor(...), or anything with its gate
 *   app.use(paymentMiddleware({ 'GET /x': { accepts: [netpay.accepts('10')] } }, netpay.server));
 */
import { X402_DEFAULT_TIMEOUT_SECONDS, X402_SCHEME } from '@netpay/protocol';
import type { Gate } from '@netpay/vendor';
import type { PaymentOption } from '@x402/core/http';
import { type FacilitatorClient, x402ResourceServer } from '@x402/core/server';
import type { Network } from '@x402/core/types';
import { NetpayFacilitator, type NetpayFacilitatorOptions } from './facilitator.ts';
import { NetpayServerScheme, vendorTerms } from './server.ts';

export interface NetpayX402Options extends NetpayFacilitatorOptions {
  /** An opened NetPay vendor (`openVendor` of `@netpay/vendor/server`): its gate checks the coins. */
  readonly vendor: { readonly gate: Gate };
  /** Facilitators of the other schemes a route may offer beside NetPay. */
  readonly facilitators?: readonly FacilitatorClient[];
}

export interface NetpayX402 {
  /** x402's resource server, NetPay registered on `netpay:*`, for `paymentMiddleware(routes, server)`. */
  readonly server: x402ResourceServer;
  readonly facilitator: NetpayFacilitator;
  readonly scheme: NetpayServerScheme;
  /** The vendor's network: `netpay:<brokerId>`. */
  readonly network: Network;
  /**
   * A route's NetPay payment option: `price` in minor units of the vendor's currency (25n or "25");
   * `maxTimeoutSeconds` as x402's (default 300).
   */
  accepts(price: bigint | string, maxTimeoutSeconds?: number): PaymentOption;
}

/** The x402 resource server and payment options of a NetPay vendor (its broker's keys fetched first). */
export async function netpayX402(o: NetpayX402Options): Promise<NetpayX402> {
  const { gate } = o.vendor;
  const facilitator = new NetpayFacilitator(gate, o.holdMs === undefined ? {} : { holdMs: o.holdMs });
  const network = await facilitator.network();
  const scheme = new NetpayServerScheme(gate, facilitator);
  const server = new x402ResourceServer([facilitator, ...(o.facilitators ?? [])]).register(
    `${X402_SCHEME}:*`,
    scheme,
  );
  const { vendorId } = vendorTerms(gate);
  return {
    server,
    facilitator,
    scheme,
    network,
    accepts: (price, maxTimeoutSeconds = X402_DEFAULT_TIMEOUT_SECONDS) => ({
      scheme: X402_SCHEME,
      network,
      payTo: vendorId,
      price: typeof price === 'bigint' ? price.toString() : price,
      maxTimeoutSeconds,
    }),
  };
}
