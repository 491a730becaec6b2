/** The ledger's words: the kinds of account, the kinds of transfer, and a transfer between two accounts. */
export type AccountKind = 'customer' | 'vendor' | 'coins' | 'fees' | 'bank' | 'fraud';

/** What a transfer is for (docs/broker.md §8.3): every money movement the broker posts is one of these. */
export type TransferKind =
  | 'load'
  | 'unload'
  | 'unload_reversal'
  | 'buy_coins'
  | 'send'
  | 'redemption'
  | 'redemption_fee'
  | 'charge_back'
  | 'charge_back_loss'
  | 'refund'
  | 'expiry_refund'
  | 'payout'
  | 'payout_reversal'
  | 'wallet_charge'
  | 'wallet_fee'
  | 'wallet_void'
  /** Tokens mode: what a new peer's coin account is given, from `bank` with no bank money behind it. */
  | 'p2p_grant'
  /** A peer's earnings moved to its coin account to pay for coins its balance did not cover. */
  | 'p2p_earnings_spent';

export interface Transfer {
  /** Unique per money movement: replaying the same id is a no-op error, never a second movement. */
  readonly id: string;
  readonly debit: string;
  readonly credit: string;
  readonly amount: bigint;
  /**
   * One of TransferKind. Typed as a string because callers outside the broker post transfers too (the
   * gate's benchmark funds its customer with a `load` from an object literal, widened to string).
   */
  readonly kind: TransferKind | (string & {});
  readonly ref?: string;
}
