/**
 * The broker's only view of the macro-payment system. The stand-in bank (packages/bank) implements it over
 * HTTP; a real bank or card API can replace it. Transfers are idempotent by `key`: sending the same key
 * again never moves money twice, which is what makes loads, unloads and payouts exactly-once.
 */
import { isNetPayError, type NetPayError } from '@netpay/protocol';
import { fail } from './errors.ts';

export interface BankTransferRequest {
  /** Idempotency key at the bank; also how a timed-out transfer is looked up. */
  readonly key: string;
  readonly from: string;
  readonly to: string;
  readonly amount: bigint;
  /** Authorization of the debited account (the customer's for loads, the broker's for payouts). */
  readonly token: string;
  readonly reference?: string;
}

export interface Bank {
  transfer(req: BankTransferRequest): Promise<{ id: string }>;
  /** The transfer made under `key`, if any (asked after a time-out). */
  findTransfer(key: string, fromToken: string): Promise<{ id: string } | null>;
}

/**
 * The bank said no (insufficient funds, unknown account, bad token): retrying will not help. The bank's own
 * code is in `details.bankCode`.
 */
export const bankRejected = (bankCode: string, message: string): NetPayError =>
  fail('bank_rejected', `the bank refused the transfer: ${message}`, { bankCode });

/**
 * The bank could not be reached or did not answer in time: the outcome is unknown, retry with the same key.
 * What went wrong (for the operator's payout log) is the error's `cause`.
 */
export const bankUnavailable = (reason: string): NetPayError =>
  fail('bank_unavailable', 'the bank did not answer; retry with the same Idempotency-Key', {}, reason);

/** What a failed bank call says for the log: the bank's reason when it did not answer, else the message. */
export const bankFailureText = (e: unknown): string =>
  isNetPayError(e, 'bank_unavailable') && typeof e.cause === 'string'
    ? e.cause
    : e instanceof Error
      ? e.message
      : String(e);
