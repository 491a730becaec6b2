import {
  ChainIdSchema,
  MinorWireSchema,
  PaywordSchema,
  SerializedTraversalSchema,
  TouchstoneSchema,
} from '@netpay/protocol';
import { z } from 'zod';

/**
 * Everything a wallet keeps, as one versioned document. Amounts are decimal strings of minor units;
 * seeds and paywords base64url. A stored document is validated like any other input before use.
 */
export const WALLET_FORMAT = 1;

const Base64url = z.string().regex(/^[A-Za-z0-9_-]*$/);

export const StoredChainSchema = z.strictObject({
  chainId: ChainIdSchema,
  coinValue: MinorWireSchema,
  n: z.number().int().min(1),
  /** The secret the chain grows from; never leaves the wallet. */
  seed: Base64url,
  root: PaywordSchema,
  /**
   * `pending`: generated and written down, purchase not confirmed yet (retried with `buyKey`);
   * `active`: spendable; `refunded`: handed back to the broker.
   */
  status: z.enum(['pending', 'active', 'refunded']),
  buyKey: z.string(),
  /** The Idempotency-Key of this chain's refund, written down before it is first asked (sent again with it). */
  refundKey: z.string().optional(),
  touchstone: TouchstoneSchema.nullable(),
  /** Highest index given out in a payment: every payword up to it counts as spent, sent or not. */
  spent: z.number().int().min(0),
  traversal: SerializedTraversalSchema,
  /** The vendor this chain last paid (paying it again there needs no hand-over). */
  lastVendor: z.string().nullable(),
  /**
   * A vendor refused this chain's exact coins as more than the price: its state of the chain is behind
   * this wallet's (it took the chain over from an older backup, docs/protocol.md §8.4). Not used to pay
   * again; `refund` hands back its rest.
   */
  outOfStep: z.boolean().optional(),
});
export type StoredChain = z.infer<typeof StoredChainSchema>;

/** A request kept while its payment is in flight (what a wallet document may hold of it). */
export const KeptRequestSchema = z.strictObject({
  method: z.string().max(16),
  headers: z.array(z.tuple([z.string().max(256), z.string().max(8192)])).max(64),
  body: z.string().max(65_536).optional(),
});

export const PaymentRecordSchema = z.strictObject({
  id: z.string(),
  at: z.string(),
  vendorId: z.string(),
  resource: z.string(),
  amount: MinorWireSchema,
  parts: z.array(
    z.strictObject({ chainId: ChainIdSchema, index: z.number().int(), coins: z.number().int() }),
  ),
  /**
   * `sent`: written down before it left (a crash here may or may not have paid: the receipt or the
   * vendor's answer to a retry tells); `accepted` with the vendor's receipt; `refused` with its code.
   * `accepted` without a receipt and with a code: the vendor's answer did not tell whether it took the
   * coins (x402's `payment_conflict`, an answer that proves nothing), so they count as spent — lost to the
   * customer at worst, never spent twice.
   */
  status: z.enum(['sent', 'accepted', 'refused']),
  receipt: z.unknown().optional(),
  code: z.string().optional(),
  /** Paid from the server-side wallet at the broker instead of coins. */
  serverWallet: z.boolean().optional(),
  /** While `sent`: the URL and header it went out with (to send again after a crash)… */
  url: z.string().optional(),
  header: z.string().optional(),
  /**
   * …or, paid through x402 (`@netpay/x402`): sent as x402's `PAYMENT-SIGNATURE`, whose value (the x402
   * PaymentPayload carrying the payment, base64 JSON) is kept once x402 has built it, to send the very same
   * header again. Without `signature` x402 never got as far as sending it, or it was sent by hand.
   */
  x402: z.strictObject({ signature: z.string().max(65_536).optional() }).optional(),
  /** …the request, when it was not a plain GET: method, headers and text body, to send it again exactly… */
  request: KeptRequestSchema.optional(),
  /** …and each chain's state before it, to give the coins back if the vendor refuses. */
  undo: z
    .array(
      z.strictObject({
        chainId: ChainIdSchema,
        spent: z.number().int().min(0),
        traversal: SerializedTraversalSchema,
        lastVendor: z.string().nullable(),
      }),
    )
    .optional(),
});
export type PaymentRecord = z.infer<typeof PaymentRecordSchema>;

export const WalletStateSchema = z.strictObject({
  format: z.literal(WALLET_FORMAT),
  brokerUrl: z.string().url(),
  currency: z.strictObject({ code: z.string(), exponent: z.number().int() }).nullable(),
  session: z
    .strictObject({ token: z.string(), customerId: z.string(), deviceId: z.string(), login: z.string() })
    .nullable(),
  /** A device waiting for its code (after register or sign-in on a new device). */
  pendingDevice: z.strictObject({ deviceId: z.string(), login: z.string() }).nullable(),
  chains: z.array(StoredChainSchema),
  history: z.array(PaymentRecordSchema),
  /** What was spent per vendor per UTC day, for the spend policy. */
  spending: z.record(z.string(), MinorWireSchema),
  /** Cookies a vendor set after a server-side wallet sign-in, by origin. */
  serverGrants: z.record(z.string(), z.string()),
});
export type WalletState = z.infer<typeof WalletStateSchema>;

export function emptyState(brokerUrl: string): WalletState {
  return {
    format: WALLET_FORMAT,
    brokerUrl,
    currency: null,
    session: null,
    pendingDevice: null,
    chains: [],
    history: [],
    spending: {},
    serverGrants: {},
  };
}
