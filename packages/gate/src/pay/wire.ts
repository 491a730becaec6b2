/**
 * The two encodings on a vendor's hot path, each paid per request, done without the general machinery
 * (issue 15: a paid request must cost little more than an unpaid one):
 *
 *   readPaymentHeader   the `NetPay-Payment` header, checked by hand for the usual shape (plain parts, no
 *                       P2P fields); anything else, and every refusal, goes through decodeHeader and the
 *                       schema, so what is accepted and every error message are exactly the schema's.
 *   receiptHeader       the `NetPay-Receipt` header of an unsigned receipt: the same bytes as
 *                       encodeHeader (base64url of canonical JSON), written from a fixed key order.
 *
 * wire.test.ts checks both against the general path on generated inputs. Node only (Buffer): the gate's.
 */
import {
  CHAIN_ID_BYTES,
  decodeHeader,
  fromBase64url,
  MAX_CHAIN_LENGTH,
  MAX_CHAINS_PER_PAYMENT,
  MAX_HEADER_LENGTH,
  ok,
  PAYWORD_BYTES,
  type Payment,
  PROTOCOL_VERSION,
  type Receipt,
  type Result,
} from '@netpay/protocol';

const B64URL_RE = /^[A-Za-z0-9_-]+$/;
const CHAIN_ID_CHARS = Math.ceil((CHAIN_ID_BYTES * 4) / 3);
const PAYWORD_CHARS = Math.ceil((PAYWORD_BYTES * 4) / 3);

/** The payment in a `NetPay-Payment` header value, or the schema's refusal. Never throws. */
export function readPaymentHeader(value: string | undefined | null): Result<Payment> {
  const fast = typeof value === 'string' ? quickPayment(value) : undefined;
  return fast ? ok(fast) : decodeHeader('payment', value);
}

/** The payment if `value` is the usual shape and valid, else undefined (the schema then decides). */
function quickPayment(value: string): Payment | undefined {
  if (value.length > MAX_HEADER_LENGTH || value.length % 4 === 1 || !B64URL_RE.test(value)) return undefined;
  const text = Buffer.from(value, 'base64url').toString('utf8');
  if (text.includes('\uFFFD')) return undefined; // not UTF-8 (or a literal U+FFFD): the schema's word
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isPlain(json, 2)) return undefined;
  const { v, parts } = json as { v?: unknown; parts?: unknown };
  if (v !== PROTOCOL_VERSION || !Array.isArray(parts)) return undefined;
  if (parts.length < 1 || parts.length > MAX_CHAINS_PER_PAYMENT) return undefined;
  if (!parts.every(quickPart)) return undefined;
  if (parts.length > 1 && new Set(parts.map((p) => p.chainId)).size !== parts.length) return undefined;
  return json as Payment;
}

/** A part with exactly chainId, index and payword, each valid (no P2P touchstone or last index). */
function quickPart(p: unknown): boolean {
  if (!isPlain(p, 3)) return false;
  const { chainId, index, payword } = p as { chainId?: unknown; index?: unknown; payword?: unknown };
  return (
    Number.isInteger(index) &&
    (index as number) >= 1 &&
    (index as number) <= MAX_CHAIN_LENGTH &&
    isBytes(chainId, CHAIN_ID_CHARS, CHAIN_ID_BYTES) &&
    isBytes(payword, PAYWORD_CHARS, PAYWORD_BYTES)
  );
}

/** A plain JSON object with exactly `keys` own keys. */
const isPlain = (x: unknown, keys: number) =>
  typeof x === 'object' && x !== null && !Array.isArray(x) && Object.keys(x).length === keys;

/** Base64url of exactly `bytes` bytes, in its one canonical spelling (as the schema's base64urlBytes). */
const isBytes = (s: unknown, chars: number, bytes: number) =>
  typeof s === 'string' && s.length === chars && B64URL_RE.test(s) && fromBase64url(s)?.length === bytes;

/**
 * The `NetPay-Receipt` header value of an unsigned receipt: base64url of its canonical JSON (keys in
 * code-unit order at every level), the same as encodeHeader(receipt).
 */
export function receiptHeader(r: Receipt): string {
  const parts = r.parts.map(
    (p) => `{"chainId":${JSON.stringify(p.chainId)},"coins":${p.coins},"index":${p.index}}`,
  );
  const payees = r.payees?.map(
    (p) => `{"amount":${JSON.stringify(p.amount)},"payeeId":${JSON.stringify(p.payeeId)},"share":${p.share}}`,
  );
  const json =
    `{"amount":${JSON.stringify(r.amount)},"currency":${JSON.stringify(r.currency)},` +
    `"exponent":${r.exponent},"issuedAt":${r.issuedAt},"parts":[${parts.join(',')}]` +
    (payees ? `,"payees":[${payees.join(',')}]` : '') +
    (r.requestId === undefined ? '' : `,"requestId":${JSON.stringify(r.requestId)}`) +
    `,"v":${r.v},"vendorId":${JSON.stringify(r.vendorId)}}`;
  return Buffer.from(json, 'utf8').toString('base64url');
}
