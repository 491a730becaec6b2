/**
 * What `createPayFetch` takes and gives (docs/protocol.md §9): its options and spend policy, what a paid
 * response carries, and the error it throws when it does not pay.
 */
import { NetPayError, type Terms } from '@netpay/protocol';

/** Limits on what payFetch pays without asking. Amounts in minor units. */
export interface SpendPolicy {
  /** Most one request may cost. */
  readonly maxPerRequest?: bigint;
  /** Most one vendor may be paid in a UTC day (the same for every vendor, or per vendor). */
  readonly maxPerVendorPerDay?: bigint | ((vendorId: string) => bigint | undefined);
  /** Most all vendors together may be paid in a UTC day. */
  readonly maxPerDay?: bigint;
  /** Asked before every payment (a UI's confirm dialog); false refuses it. */
  readonly ask?: (terms: Terms, url: string) => boolean | Promise<boolean>;
}

export interface PayFetchOptions {
  readonly policy?: SpendPolicy;
  /**
   * Pay from the server-side wallet at the broker instead of coins: the first time at a vendor, the
   * wallet signs in there through the broker (cap `serverWalletCap` per day) and keeps the vendor's cookie.
   */
  readonly serverWallet?: boolean;
  readonly serverWalletCap?: bigint;
  /**
   * Ask every vendor for a signed receipt (`NetPay-Receipt-Signature: ed25519`, docs/protocol.md §9) and
   * check its signature with the vendor's key from the wallet's broker; `response.netpay.signature` says
   * how it went. The coins are spent either way: a bad signature is evidence, not a refund.
   */
  readonly signedReceipts?: boolean;
  readonly fetch?: typeof fetch;
}

/** What payFetch paid for a response (also on `response.netpay`). */
export interface PaidInfo {
  readonly paid: bigint;
  readonly vendorId: string;
  readonly receipt: unknown;
  readonly serverWallet: boolean;
  /** With `signedReceipts`: whether the receipt carried a valid signature of the vendor. */
  readonly signature?: 'valid' | 'invalid' | 'missing';
}

/** A response from payFetch: `netpay` is there when something was paid. */
export type PaidResponse = Response & { netpay?: PaidInfo };

/** One way of paying a request under its terms (coins, or the server-side wallet). */
export type Payer = (url: string, init: RequestInit | undefined, terms: Terms) => Promise<PaidResponse>;

/**
 * Why payFetch did not pay: a NetPayError with status 402, `code` one of the policy or wallet codes, and
 * `details.terms` what was asked (when there were terms).
 */
export const paymentDeclined = (code: string, message: string, terms?: Terms) =>
  new NetPayError(code, message, { status: 402, ...(terms ? { details: { terms } } : {}) });
