import { z } from 'zod';
import {
  CurrencyCodeSchema,
  ExponentSchema,
  MAX_PAYEES,
  MinorWireSchema,
  PartyIdSchema,
  PayeeShareSchema,
} from './messages.ts';

/**
 * The terms of a priced resource (docs/protocol.md §9): what a vendor gate answers an unpaid or refused
 * request with, in the 402 body's `terms` and the `NetPay-Terms` header. The gate builds them with this
 * type and wallets parse them with this schema. Members a wallet does not know are ignored (so later
 * versions may add some); the ones here are checked.
 */
export const TermsSchema = z.object({
  v: z.literal(1),
  /** The vendor that will accept the payment (and signs its receipts and hand-overs). */
  vendorId: PartyIdSchema,
  /** What the price is for: the request's method and path, `GET /paper.pdf`. */
  resource: z.string().min(1).max(4096),
  /** The price, exactly what the coins must be worth, in minor units. */
  price: MinorWireSchema,
  currency: CurrencyCodeSchema,
  exponent: ExponentSchema,
  /**
   * The brokers whose coins the vendor accepts: where to buy (`url`), the id in their touchstones
   * (`brokerId`) and the key ids the vendor accepts touchstones under (`keyIds`). `brokerId` and `keyIds`
   * are absent only while the vendor has not yet reached the broker for its keys.
   */
  brokers: z
    .array(
      z.object({
        url: z.string().min(1).max(2048),
        brokerId: PartyIdSchema.optional(),
        keyIds: z.array(PartyIdSchema).max(32).optional(),
      }),
    )
    .min(1)
    .max(8),
  /** Who is paid what share (basis points) of the price (§8.7); absent: all the vendor's. */
  payees: z.array(PayeeShareSchema).min(1).max(MAX_PAYEES).optional(),
  description: z.string().max(1024).optional(),
  /** Where a person without coins signs in to pay from the server-side wallet. */
  wallet: z.object({ signIn: z.string().min(1).max(4096) }).optional(),
  /** How to pay, in words, for someone reading the body. */
  pay: z.string().max(1024).optional(),
});
export type Terms = z.infer<typeof TermsSchema>;
