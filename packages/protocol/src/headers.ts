import { fromBase64url, toBase64url, utf8 } from './bytes.ts';
import { canonicalJson } from './canonical.ts';
import { decodeMessageJson, type MessageKind, type MessageOf } from './messages.ts';
import { err, type Result } from './result.ts';

/** HTTP header names of the NetPay web binding (docs/protocol.md §9). */
export const HEADERS = {
  /** Vendor → client on 402: the terms, base64url JSON (same as the response body). */
  terms: 'NetPay-Terms',
  /** Client → vendor: the payment. */
  payment: 'NetPay-Payment',
  /** Vendor → client on success: the receipt. */
  receipt: 'NetPay-Receipt',
  /** Client → vendor, optional: `ed25519` asks for a signed receipt (docs/protocol.md §9). */
  receiptSignature: 'NetPay-Receipt-Signature',
} as const;

/**
 * The server-side wallet's cookies at a vendor: the grant token and the sign-in state, each named after the
 * vendor (its id in base64url, so two ids never share a name), since browsers send a host's cookies to all
 * its ports and shops may share a domain.
 */
export const WALLET_COOKIE_PREFIX = 'netpay_wallet.';
export const WALLET_STATE_COOKIE_PREFIX = 'netpay_state.';
export const walletCookieName = (vendorId: string) => WALLET_COOKIE_PREFIX + toBase64url(utf8(vendorId));
export const walletStateCookieName = (vendorId: string) =>
  WALLET_STATE_COOKIE_PREFIX + toBase64url(utf8(vendorId));

/** Largest header value accepted (base64url characters). */
export const MAX_HEADER_LENGTH = 16 * 1024;

const decoder = new TextDecoder('utf-8', { fatal: true });

/** base64url(canonical JSON) of a message, for an HTTP header. */
export function encodeHeader(message: unknown): string {
  return toBase64url(utf8(canonicalJson(message)));
}

/** Decodes and validates a header value as a message of `kind`. Never throws. */
export function decodeHeader<K extends MessageKind>(
  kind: K,
  value: string | undefined | null,
): Result<MessageOf<K>> {
  if (typeof value !== 'string' || value.length === 0) return err('malformed', `${kind} header is missing`);
  if (value.length > MAX_HEADER_LENGTH)
    return err('malformed', `${kind} header is longer than ${MAX_HEADER_LENGTH}`);
  const bytes = fromBase64url(value.trim());
  if (!bytes) return err('malformed', `${kind} header is not base64url`);
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    return err('malformed', `${kind} header is not UTF-8`);
  }
  return decodeMessageJson(kind, text);
}
