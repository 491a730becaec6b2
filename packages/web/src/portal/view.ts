/**
 * What the wallet page's sections share: the config it reads, the `html` template tag, and `View`, the
 * wallet with the page's helpers (run an action with the buttons disabled, show and parse amounts).
 */
import type { currency } from '@netpay/protocol';
import type { Wallet } from '@netpay/wallet';
import htm from 'htm';
import { h } from 'preact';

export const html = htm.bind(h);

export interface Shop {
  readonly id: string;
  readonly name: string;
  readonly url: string;
  /** Something to buy there, e.g. /cards/birthday.html. */
  readonly sample: string;
}
export interface PortalConfig {
  readonly broker: string;
  readonly shops: readonly Shop[];
}

/** A form's action: returns the notice to show (if any); a thrown error shows in the alert. */
export type Action = (form: FormData) => Promise<string | undefined>;

export interface View {
  readonly wallet: Wallet;
  readonly config: PortalConfig;
  /** An action is running: the buttons are disabled. */
  readonly busy: boolean;
  /** The currency, once the broker has answered. */
  readonly cur: ReturnType<typeof currency> | null;
  /** A form's submit handler that runs the action (see App). */
  act(fn: Action): (ev: Event) => Promise<void>;
  show(m: bigint): string;
  /** An amount typed in major units, as minor units; throws `bad_amount` for anything else. */
  parse(text: string): bigint;
}

/** A form field's value, trimmed. */
export const field = (f: FormData, name: string) => String(f.get(name) ?? '').trim();
