import type { Db, Queryable } from '@netpay/db';
import { toBase64url } from '@netpay/protocol';
import { insertOutboxMessage } from './accounts/store.ts';
import type { Bank } from './bank.ts';
import type { BrokerConfig } from './config.ts';
import type { Ledger } from './ledger/ledger.ts';

/** Delivers device codes. In dev mode the outbox table is readable at GET /dev/outbox. */
export interface Notifier {
  send(tx: Queryable, message: { recipient: string; kind: string; body: string }): Promise<void>;
}

/**
 * What every feature's dependencies start from: the database, the parsed config, and the clock and random
 * source (injected, so tests can move time and replay randomness).
 */
export interface BrokerBasics {
  readonly db: Db;
  readonly config: BrokerConfig;
  /** Unix milliseconds. */
  readonly clock: () => number;
  readonly random: (length: number) => Uint8Array;
}

/** What the broker's services are built from: the basics, the ledger, the bank and the notifier. */
export interface BrokerContext extends BrokerBasics {
  readonly ledger: Ledger;
  readonly bank: Bank | null;
  readonly notifier: Notifier;
}

export function newId(ctx: Pick<BrokerContext, 'random'>, prefix: string): string {
  return `${prefix}_${toBase64url(ctx.random(12))}`;
}

export const nowSeconds = (ctx: Pick<BrokerContext, 'clock'>) => Math.floor(ctx.clock() / 1000);

/** Whole seconds (at least 1) until a lockout window that began at `firstAt` (ms) is over: its `retryAfter`. */
export const secondsLeft = (firstAt: bigint | number, windowMs: number, now: number) =>
  Math.max(1, Math.ceil((Number(firstAt) + windowMs - now) / 1000));

export function outboxNotifier(ctx: Pick<BrokerContext, 'clock' | 'random'>): Notifier {
  return {
    async send(tx, m) {
      await insertOutboxMessage(tx, { id: newId(ctx, 'msg'), ...m, createdAt: ctx.clock() });
    },
  };
}
