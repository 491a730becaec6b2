/**
 * Expected failures are values: every check in this package returns a `Result` instead of throwing.
 * Codes are a closed set so callers can map them exhaustively (e.g. to HTTP statuses).
 */
export const PROTOCOL_ERROR_CODES = [
  'malformed',
  'bad_signature',
  'wrong_broker_key',
  'wrong_vendor_key',
  'touchstone_expired',
  'touchstone_not_yet_valid',
  'chain_mismatch',
  'index_not_advancing',
  'index_out_of_range',
  'too_many_coins',
  'payword_invalid',
  'wrong_recipient',
  'invalid_range',
  'currency_mismatch',
  'money_malformed',
  'money_negative',
  'money_too_precise',
  'money_out_of_range',
] as const;

export type ProtocolErrorCode = (typeof PROTOCOL_ERROR_CODES)[number];

/**
 * Each protocol code's HTTP status at a payment gate (docs/protocol.md §10). Services where there is
 * nothing to pay (broker, vendor-to-vendor) answer the gate's 402 codes with 422: `serviceStatus`.
 */
export const PROTOCOL_ERROR_STATUS: Record<ProtocolErrorCode, number> = {
  malformed: 400,
  bad_signature: 403,
  wrong_broker_key: 403,
  wrong_vendor_key: 403,
  touchstone_expired: 402,
  touchstone_not_yet_valid: 402,
  chain_mismatch: 400,
  index_not_advancing: 409,
  index_out_of_range: 402,
  too_many_coins: 402,
  payword_invalid: 402,
  wrong_recipient: 403,
  invalid_range: 400,
  currency_mismatch: 402,
  money_malformed: 400,
  money_negative: 400,
  money_too_precise: 400,
  money_out_of_range: 400,
};

/** A protocol code's status at a service with nothing to pay: 402 becomes 422. */
export const serviceStatus = (code: ProtocolErrorCode) =>
  PROTOCOL_ERROR_STATUS[code] === 402 ? 422 : PROTOCOL_ERROR_STATUS[code];

/** What each protocol code means (the source of docs/protocol.md §10's table). */
export const PROTOCOL_ERROR_MEANING: Record<ProtocolErrorCode, string> = {
  malformed:
    'A message, header or stored traversal state fails decoding or schema validation: bad JSON, an unknown or missing field, a wrong type, a value out of range, bad base64url, a header that is too long or not UTF-8.',
  bad_signature:
    'A signature does not verify under the expected key (touchstone, index, claim, hand-over message, receipt).',
  wrong_broker_key:
    "No key is known for the touchstone's (`brokerId`, `keyId`): an unknown broker, or an unknown or retired key.",
  wrong_vendor_key:
    "The signer's vendor id is unknown, or has no registered key. Not returned by the protocol package; reserved for services that look up vendor keys.",
  touchstone_expired:
    "`now` ≥ `expiresAt`: the chain's coins can no longer be spent. The unspent remainder is refundable.",
  touchstone_not_yet_valid: '`issuedAt` is more than the clock skew in the future.',
  chain_mismatch:
    'Two parts of the input name different chains (part vs touchstone, state vs part, index vs expected chain, claim vs touchstone).',
  index_not_advancing:
    "The index does not go beyond the receiver's state or anchor: the coins are already spent here (a replay, a concurrent payment, or a wallet whose view is behind), or an index lies before its anchor.",
  index_out_of_range: 'The index is beyond the chain length *n*.',
  too_many_coins:
    'One step advances more coins than allowed (`maxCoins` per payment part, default 1000; `maxSteps` per claim or index check).',
  payword_invalid:
    "The payword does not hash to the trusted point in the stated number of steps, is not 32 bytes, or a claim's starting payword differs from the anchor.",
  wrong_recipient:
    'An index is handed to a different party than expected (or is handed on when it must not be), or a hand-over request is addressed to a different holder.',
  invalid_range:
    "A claim covers no coins (`to.index` ≤ `from.index`), or starts before the broker's verified anchor.",
  currency_mismatch:
    "Amounts or coins in different currencies (code or exponent) are combined, or a chain's currency is not the price's.",
  money_malformed:
    'An amount is not in the wire or decimal form (leading zeros, sign, spaces, exponent, a trailing decimal point, negative zero).',
  money_negative: 'A negative amount where only non-negative amounts are allowed.',
  money_too_precise: "A decimal amount has more decimal places than the currency's exponent.",
  money_out_of_range: 'An amount beyond ±(2^63 − 1) minor units.',
};

export interface ProtocolError {
  readonly code: ProtocolErrorCode;
  readonly message: string;
}

export type Result<T, E = ProtocolError> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: E };

export function ok<T>(value: T): Result<T, never> {
  return { ok: true, value };
}

export function err(code: ProtocolErrorCode, message: string): Result<never, ProtocolError> {
  return { ok: false, error: { code, message } };
}

/** Thrown only for programming errors (bugs), never for bad input. */
export class InvariantError extends Error {
  override readonly name = 'InvariantError';
}

export function invariant(condition: unknown, message: string): asserts condition {
  if (!condition) throw new InvariantError(message);
}
