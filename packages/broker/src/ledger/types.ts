/** The ledger's words: the kinds of account, and a transfer between two of them. */
export type AccountKind = 'customer' | 'vendor' | 'coins' | 'fees' | 'bank' | 'fraud';

export interface Transfer {
  /** Unique per money movement: replaying the same id is a no-op error, never a second movement. */
  readonly id: string;
  readonly debit: string;
  readonly credit: string;
  readonly amount: bigint;
  readonly kind: string;
  readonly ref?: string;
}
