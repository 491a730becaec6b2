import { HandoverResponseSchema, HEADERS, MinorWireSchema, TermsSchema } from '@netpay/protocol';
import { z } from 'zod';
import { route } from './route.ts';

/**
 * A vendor's HTTP surface (docs/protocol.md §7, the gate's README): what customers' wallets and other
 * vendors call. A paid resource is any path the shop prices; the hand-over and the vendor server's own
 * pages are fixed routes.
 */

/**
 * A paid request (protocol.md §7.2): the wallet sends its payment in `NetPay-Payment`; the vendor answers
 * the resource with a receipt in `NetPay-Receipt`, or 402 with the terms in the body and in `NetPay-Terms`
 * (an HTML page instead for a browser that asks for text/html).
 */
export const paidRequest = {
  requestHeaders: { payment: HEADERS.payment, receiptSignature: HEADERS.receiptSignature },
  responseHeaders: { receipt: HEADERS.receipt, terms: HEADERS.terms },
  /** The JSON body of a 402: the terms, with the code of what was wrong with the payment, if any. */
  paymentRequired: TermsSchema,
} as const;

/** Where a vendor serves hand-over requests unless configured otherwise. */
export const DEFAULT_HANDOVER_PATH = '/netpay/handover';

const Local = 'Served to the vendor machine itself only (127.0.0.1): 403 `forbidden` from elsewhere.';

export const vendorApi = {
  handover: route({
    method: 'POST',
    path: DEFAULT_HANDOVER_PATH,
    summary:
      'Another vendor asks for a chain this vendor holds (protocol.md §7.7): a signed handover-request in, a signed handover-response with the index handed over out',
    // The request is a signed protocol message: the signature is in the body, not in headers.
    auth: 'none',
    body: z.unknown().describe('a handover-request message (protocol.md §6.5), checked by the vendor'),
    responses: { 200: HandoverResponseSchema },
    errors: [
      'malformed',
      'wrong_recipient',
      'stale_request',
      'replayed_request',
      'unknown_party',
      'bad_signature',
      'chain_not_held',
    ],
  }),
  statement: route({
    method: 'GET',
    path: '/netpay/statement',
    summary: `The vendor's coins accepted, redeemed and missing, and its account at the broker. ${Local}`,
    auth: 'none',
    responses: { 200: z.looseObject({ vendorId: z.string() }) },
    errors: ['forbidden'],
  }),
  dashboard: route({
    method: 'GET',
    path: '/netpay/dashboard.json',
    summary: `What the vendor dashboard shows: statement, revenue by minute, payees. ${Local}`,
    auth: 'none',
    responses: {
      200: z.looseObject({
        name: z.string(),
        currency: z.looseObject({ code: z.string(), exponent: z.number().int() }),
        statement: z.looseObject({ vendorId: z.string() }),
        revenue: z.array(z.looseObject({ amount: MinorWireSchema })),
        payees: z.array(z.looseObject({ payeeId: z.string() })),
      }),
    },
    errors: ['forbidden'],
  }),
} as const;
export type VendorApi = typeof vendorApi;
