import { errorRegistry, PROTOCOL_ERROR_CODES, type ProtocolErrorCode, serviceStatus } from '@netpay/protocol';
import { ACCOUNT_ERROR_STATUS } from './accounts/errors.ts';
import { ADMIN_ERROR_STATUS } from './admin/errors.ts';
import { DIRECTORY_ERROR_STATUS } from './directory/errors.ts';
import { ISSUANCE_ERROR_STATUS } from './issuance/errors.ts';
import { P2P_ERROR_STATUS } from './p2p/errors.ts';
import { PARTY_ERROR_STATUS } from './parties/errors.ts';
import { WALLET_ERROR_STATUS } from './wallet/errors.ts';

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
  ...ACCOUNT_ERROR_STATUS,
  insufficient_funds: 409,
  limit_exceeded: 422,
  ...ISSUANCE_ERROR_STATUS,
  ...DIRECTORY_ERROR_STATUS,
  ...PARTY_ERROR_STATUS,
  ...P2P_ERROR_STATUS,
  unknown_party: 404,
  bank_unavailable: 503,
  idempotency_conflict: 409,
  ...ADMIN_ERROR_STATUS,
  ...WALLET_ERROR_STATUS,
} as const;

export type BrokerErrorCode = keyof typeof BROKER_ERROR_STATUS;
export const fail = errorRegistry<BrokerErrorCode>(BROKER_ERROR_STATUS);
