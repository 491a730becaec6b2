/**
 * The broker's only view of the macro-payment system. The stand-in bank (packages/bank) implements it over
 * HTTP; a real bank or card API can replace it. Transfers are idempotent by `key`: sending the same key
 * again never moves money twice, which is what makes loads, unloads and payouts exactly-once.
 */
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

/** The bank said no (insufficient funds, unknown account, bad token): retrying will not help. */
export class BankRejected extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The bank could not be reached or did not answer in time: the outcome is unknown, retry with the same key. */
export class BankUnavailable extends Error {}
