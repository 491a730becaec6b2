import { errorRegistry } from '@netpay/protocol';

/**
 * Every expected failure of the bank, with its HTTP status. A new code without a status fails to compile.
 * (`bad_request`, `bad_json`, `idempotency_key_required` and `idempotency_conflict` come from
 * @netpay/service.)
 */
export const BANK_ERROR_STATUS = {
  unauthorized: 401,
  forbidden: 403,
  initial_balance_not_allowed: 403,
  account_not_found: 404,
  transfer_not_found: 404,
  same_account: 400,
  invalid_amount: 400,
  insufficient_funds: 409,
  balance_limit_exceeded: 409,
} as const satisfies Record<string, number>;

export type BankErrorCode = keyof typeof BANK_ERROR_STATUS;

export const bankError = errorRegistry<BankErrorCode>(BANK_ERROR_STATUS);
