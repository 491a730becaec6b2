import { errorRegistry, PROTOCOL_ERROR_CODES, type ProtocolErrorCode, serviceStatus } from '@netpay/protocol';
import { DIRECTORY_ERROR_STATUS } from './directory/errors.ts';

/** A failed protocol check is answered with the protocol code itself (docs/protocol.md §10: 402 → 422). */
const PROTOCOL_AT_BROKER = Object.fromEntries(
  PROTOCOL_ERROR_CODES.map((c) => [c, serviceStatus(c)]),
) as Record<ProtocolErrorCode, number>;

/** Every error the broker answers with, and its HTTP status (a new code without a status fails to compile). */
export const BROKER_ERROR_STATUS = {
  ...PROTOCOL_AT_BROKER,
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  login_taken: 409,
  invalid_credentials: 401,
  device_not_verified: 403,
  code_invalid: 401,
  code_expired: 410,
  too_many_attempts: 429,
  totp_required: 401,
  totp_invalid: 401,
  insufficient_funds: 409,
  limit_exceeded: 422,
  bad_denomination: 422,
  chain_exists: 409,
  ...DIRECTORY_ERROR_STATUS,
  party_exists: 409,
  invitation_required: 403,
  invitation_invalid: 403,
  unknown_party: 404,
  recipient_not_found: 404,
  bank_unavailable: 503,
  bank_rejected: 422,
  idempotency_conflict: 409,
  admin_disabled: 403,
  grant_invalid: 403,
  grant_revoked: 403,
  spending_limit: 402,
} as const;

export type BrokerErrorCode = keyof typeof BROKER_ERROR_STATUS;
export const fail = errorRegistry<BrokerErrorCode>(BROKER_ERROR_STATUS);
