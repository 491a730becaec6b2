/**
 * What the gate is asked: a request as any framework sees it (method, URL, headers), the price of the
 * resource, and the few headers the gate reads (docs/protocol.md §9).
 */
import { HEADERS, type PayeeShare } from '@netpay/protocol';

/** What a priced resource costs: minor units of the gate's currency, optional payees with shares (bps). */
export interface Price {
  readonly amount: bigint;
  readonly payees?: readonly PayeeShare[];
  readonly description?: string;
  /**
   * The most a payment for this request may be worth, when more than `amount` may be paid (a P2P seller's
   * tab: chunks served ahead of payment, paid with a later chunk, docs/p2p.md §3). Default `amount`:
   * exactly the price. The receipt states what was paid.
   */
  readonly upTo?: bigint;
}

export interface GateRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string | string[] | undefined>;
}

/** The header a client sends to get its receipt signed by the vendor (docs/protocol.md §9). */
export const RECEIPT_SIGNATURE_HEADER = HEADERS.receiptSignature;

/** A request header's (first) value. */
export const header = (req: GateRequest, name: string): string | undefined => {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
};

/** A cookie's value from the request's Cookie header(s). */
export function cookie(headers: GateRequest['headers'], name: string): string | undefined {
  const raw = headers.cookie;
  for (const part of (Array.isArray(raw) ? raw.join(';') : (raw ?? '')).split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** `NetPay-Receipt-Signature: ed25519` asks for a signed receipt. */
export const wantsSignedReceipt = (req: GateRequest) =>
  header(req, RECEIPT_SIGNATURE_HEADER)?.trim() === 'ed25519';

/** The paid request's `Idempotency-Key`, echoed in the receipt as `requestId` when it fits (§6.5). */
export const requestId = (req: GateRequest) => {
  const key = header(req, 'Idempotency-Key');
  return key !== undefined && /^[\x21-\x7e]{1,128}$/.test(key) ? key : undefined;
};

/** What was paid for: "GET /path" (a retry is served free only for the same resource). */
export const resourceOf = (req: GateRequest) => `${req.method} ${req.url}`;
