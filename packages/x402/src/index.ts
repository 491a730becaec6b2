/**
 * `@netpay/x402`: NetPay as a payment scheme inside the unmodified x402 v2 SDK (issue 17). The wire
 * mapping is in `@netpay/protocol` (x402.ts); here are the three parts the SDK takes:
 *
 *   client.ts       the scheme for x402's client, paying from a NetPay wallet (registerNetpay)
 *   server.ts       the scheme for x402's resource server (prices in minor units, the terms in `extra`)
 *   facilitator.ts  the in-process facilitator over the vendor's gate (verify = check and reserve the
 *                   coins, settle = commit them)
 *   setup.ts        all of the server side in one call (netpayX402)
 */
export {
  brokerIdOf,
  decodeX402Header,
  encodeX402Header,
  netpayPaymentOf,
  termsToX402,
  X402_HEADERS,
  X402_SCHEME,
  x402Network,
  x402ToTerms,
} from '@netpay/protocol';
export * from './client.ts';
export * from './facilitator.ts';
export * from './server.ts';
export * from './setup.ts';
