import { errorRegistry } from '@netpay/protocol';

/**
 * The codes every NetPay service answers with, whatever its domain (docs/broker.md §15.2), and their HTTP
 * statuses. A service's own codes live in its own registry (broker, bank); all are NetPayErrors, turned
 * into `{ code, message, details? }` with the status by the service app's error handler.
 */
export const SERVICE_ERROR_STATUS = {
  bad_request: 400,
  bad_json: 400,
  json_too_deep: 400,
  invalid_characters: 400,
  body_too_large: 413,
  uri_too_long: 414,
  request_timeout: 408,
  headers_too_large: 431,
  unsupported_media_type: 415,
  not_found: 404,
  internal: 500,
  not_ready: 503,
  idempotency_key_required: 400,
  idempotency_conflict: 409,
  request_in_progress: 409,
  signature_missing: 401,
  signature_invalid: 401,
  signature_expired: 401,
  unknown_signer: 401,
} as const satisfies Record<string, number>;

export type ServiceErrorCode = keyof typeof SERVICE_ERROR_STATUS;
export const serviceError = errorRegistry<ServiceErrorCode>(SERVICE_ERROR_STATUS);

export interface ErrorBody {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}
