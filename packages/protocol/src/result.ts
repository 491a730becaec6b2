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
