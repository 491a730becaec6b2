import { HandoverResponseSchema, HEADERS, MinorWireSchema, TermsSchema } from '@netpay/protocol';
import { z } from 'zod';
import { SignedMinorWireSchema } from './bank.ts';
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

const Count = z.number().int().min(0);

/**
 * The vendor's statement (the gate's redeem/statement.ts): its own accounts in minor units, and its account
 * at the broker (null when the broker cannot be reached).
 */
export const VendorStatementSchema = z
  .looseObject({
    vendorId: z.string(),
    chains: Count.describe('chains held now'),
    accepted: MinorWireSchema.describe('coins taken, over all chains ever held'),
    redeemed: MinorWireSchema.describe('credited by the broker'),
    // Signed: its sums are read by separate statements, so a coin taken and credited between them is
    // counted credited but not yet accepted.
    awaitingRedemption: SignedMinorWireSchema.describe('receipted, not yet credited nor refused'),
    missing: MinorWireSchema.describe('receipted, then claimed and refused by the broker'),
    missingRanges: z.array(
      z.looseObject({
        chainId: z.string(),
        fromIndex: Count,
        toIndex: Count,
        code: z.string(),
        amount: MinorWireSchema,
      }),
    ),
    refusedClaims: Count,
    claimsAwaitingAnswer: Count,
    walletCharged: MinorWireSchema.describe('server-side wallet sales kept'),
    walletVoidsPending: MinorWireSchema.describe('voids of failed responses waiting for the broker'),
    walletOwed: MinorWireSchema.describe('voids the broker refused: owed to customers'),
    broker: z
      .looseObject({
        balance: MinorWireSchema.describe('waiting for payout'),
        paidOut: MinorWireSchema,
        payoutsPending: MinorWireSchema,
        credited: MinorWireSchema,
        matches: z.boolean().describe("the broker's record of credits is the vendor's own"),
      })
      .nullable(),
  })
  .describe('VendorStatement');

/** What the vendor dashboard shows: the statement, revenue per minute over the last day, payees' shares. */
export const VendorDashboardSchema = z
  .looseObject({
    name: z.string(),
    currency: z.looseObject({ code: z.string(), exponent: z.number().int() }),
    statement: VendorStatementSchema,
    revenue: z
      .array(
        z.looseObject({
          minute: Count.describe('ms since 1970, whole minutes'),
          amount: MinorWireSchema,
          payments: Count,
        }),
      )
      .describe('oldest first'),
    payees: z
      .array(z.looseObject({ payeeId: z.string(), amount: MinorWireSchema }))
      .describe('gross, before the broker fee'),
  })
  .describe('VendorDashboard');

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
    responses: { 200: VendorStatementSchema },
    errors: ['forbidden'],
  }),
  dashboard: route({
    method: 'GET',
    path: '/netpay/dashboard.json',
    summary: `What the vendor dashboard shows: statement, revenue by minute, payees. ${Local}`,
    auth: 'none',
    responses: {
      200: VendorDashboardSchema,
    },
    errors: ['forbidden'],
  }),
} as const;
export type VendorApi = typeof vendorApi;
