/**
 * A paid request between `begin` and `finish`: coins verified and reserved (their chains locked), or a
 * server-side wallet charge made. `finish` commits or releases it.
 */
import type { IndexMessage, Receipt } from '@netpay/protocol';
import type { WalletCharge } from '../broker-client.ts';
import type { GateAnswer } from '../errors.ts';
import type { HeldChain } from '../store/store.ts';

export type Ticket = CoinTicket | WalletTicket;

/** One chain's part of a payment: its coins from `fromIndex` to `toIndex`. */
export interface ChainAdvance {
  readonly chain: HeldChain;
  readonly fromIndex: number;
  readonly fromPayword: Uint8Array;
  readonly toIndex: number;
  readonly payword: Uint8Array;
  /** P2P: the payer's signed index at `toIndex` (the part's `paidIndex`), its claims' `endIndex`. */
  readonly evidence?: IndexMessage;
}

export interface CoinTicket {
  readonly wallet?: undefined;
  readonly advances: readonly ChainAdvance[];
  /** Payees' shares as canonical JSON, for multi-party redemption. */
  readonly payees?: string;
  readonly receipt: Receipt;
  /** What was paid for ("GET /path"): a retry is served free only for the same resource. */
  readonly resource: string;
  /** A retry of a payment already accepted: serve again, charge nothing. */
  readonly replay: boolean;
  /** Paid through x402's `PAYMENT-SIGNATURE`: the answer carries `PAYMENT-RESPONSE` too. */
  readonly x402?: true;
  readonly release: () => void;
}

export interface WalletTicket {
  /** Paid from the customer's server-side wallet instead of coins: the broker's charge. */
  readonly wallet: WalletCharge;
  /** Payees' shares as canonical JSON, for the dashboard. */
  readonly payees?: string;
  readonly release: () => void;
}

/** What `begin` gives: a ticket to run the handler under, or the gate's own answer. */
export type Begun = { ticket: Ticket } | { answer: GateAnswer };
