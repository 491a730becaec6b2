/**
 * The wallet's core: its one document (chains, history, session) in a storage, the broker's client, and
 * the rule every operation in ops/ follows — one change at a time, each saved before it resolves.
 *
 * Several instances over one storage (the web wallet's tab and a vendor page's wallet frame over one
 * IndexedDB record) take turns when the storage has a `lock`: each change reads the stored document first
 * and saves it before the next one starts. Reads (`history`, `balance`, `chains`) show the document as of
 * this instance's last change; `refresh()` reads in what the others changed since.
 */
import {
  ChainTraversal,
  type Currency,
  formatAmount,
  currency as makeCurrency,
  money,
  NetPayError,
  randomBytes,
  toBase64url,
} from '@netpay/protocol';
import { type BrokerApi, createBrokerApi } from './broker-api.ts';
import { emptyState, type StoredChain, type WalletState } from './state.ts';
import type { WalletStorage } from './storage.ts';

export interface OpenWalletOptions {
  readonly storage: WalletStorage;
  /** The broker this wallet buys from; needed the first time, must match afterwards. */
  readonly brokerUrl?: string;
  readonly fetch?: typeof fetch;
  readonly clock?: () => number;
}

/** What every operation is given: the document, the broker, and the one way to change the document. */
export interface WalletCore {
  readonly state: WalletState;
  readonly api: BrokerApi;
  readonly clock: () => number;
  /** Runs one change: alone in this instance and, with the storage's lock, across instances. */
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
  /** Writes the document down; only inside `exclusive`. */
  save(): Promise<void>;
  /** Reads in what other instances over the same storage changed since this one's last change. */
  refresh(): Promise<void>;
  /** The session token, or `not_signed_in`. */
  session(): string;
  /** A fresh idempotency key or record id. */
  key(): string;
  /** A chain's traversal, made once from its stored state. */
  traversalOf(c: StoredChain): ChainTraversal;
  readonly traversals: Map<string, ChainTraversal>;
  /** Chains with a payment in flight (not settled yet): not used for new payments. */
  busy(): Set<string>;
  /** The broker's currency (a change the first time: it is written down). */
  currency(): Promise<Currency>;
  /** The same, for use inside a change. */
  currencyInChange(): Promise<Currency>;
}

const trimUrl = (u: string) => u.replace(/\/+$/, '');

export const formatWith = (minor: bigint, c: Currency) => formatAmount(money(minor, c));

/** Opens the wallet's document (creating it on first use) and the core over it. */
export async function openCore(o: OpenWalletOptions): Promise<WalletCore> {
  const stored = await o.storage.load();
  if (!stored && !o.brokerUrl)
    throw new NetPayError('no_wallet', 'there is no wallet here yet: give the broker URL to create one');
  if (stored && o.brokerUrl && trimUrl(stored.brokerUrl) !== trimUrl(o.brokerUrl)) {
    throw new NetPayError(
      'wrong_broker',
      `this wallet belongs to the broker at ${stored.brokerUrl}, not ${o.brokerUrl}; use another wallet folder`,
    );
  }
  const state: WalletState = stored ?? emptyState(trimUrl(o.brokerUrl!));
  const traversals = new Map<string, ChainTraversal>();
  const { exclusive, save } = changes(o.storage, state, traversals);
  const core: WalletCore = {
    state,
    api: createBrokerApi(state.brokerUrl, o.fetch),
    clock: o.clock ?? Date.now,
    exclusive,
    save,
    refresh: () =>
      exclusive(async () => {
        if (!o.storage.lock) await reload(o.storage, state, traversals);
      }),
    session: () => {
      if (!state.session) throw new NetPayError('not_signed_in', 'sign in first (netpay wallet login)');
      return state.session.token;
    },
    key: () => toBase64url(randomBytes(16)),
    traversalOf: (c) => traversalOf(traversals, c),
    traversals,
    busy: () =>
      new Set(state.history.filter((h) => h.status === 'sent').flatMap((h) => h.parts.map((p) => p.chainId))),
    currencyInChange: async () => {
      if (!state.currency) {
        const c = await core.api.config({});
        state.currency = { code: c.currency, exponent: c.exponent };
        await save();
      }
      return makeCurrency(state.currency.code, state.currency.exponent);
    },
    currency: () =>
      state.currency
        ? Promise.resolve(makeCurrency(state.currency.code, state.currency.exponent))
        : exclusive(core.currencyInChange),
  };
  // A new wallet is written down as a change: another tab may have created it meanwhile.
  if (!stored) await exclusive(save);
  return core;
}

/**
 * One change at a time, each saved before it resolves: in this instance by a queue, and across the
 * instances sharing the storage (browser tabs) by its lock, under which the change starts from the
 * stored document. A storage without a lock is this instance's alone (fileStorage: one process per
 * wallet folder). No change runs another change (`exclusive` inside `exclusive` would wait forever).
 */
function changes(storage: WalletStorage, state: WalletState, traversals: Map<string, ChainTraversal>) {
  let queue: Promise<unknown> = Promise.resolve();
  let changing = false;
  function exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const change = async () => {
      changing = true;
      try {
        return await fn();
      } finally {
        changing = false;
      }
    };
    const step = storage.lock
      ? () =>
          storage.lock!(async () => {
            await reload(storage, state, traversals);
            return change();
          })
      : change;
    const run = queue.then(step, step);
    queue = run.catch(() => {});
    return run;
  }
  const save = () => {
    // Saving outside a change could write a stale document over another instance's changes.
    if (!changing) throw new Error('bug: the wallet saves its document only inside exclusive()');
    return storage.save(state);
  };
  return { exclusive, save };
}

/**
 * Reads the document again (another wallet instance over the same storage may have changed it) into
 * `state` in place, since everything holds that object, and forgets the traversals made from the old one.
 */
async function reload(storage: WalletStorage, state: WalletState, traversals: Map<string, ChainTraversal>) {
  const fresh = await storage.load();
  // Gone from the storage (deleted meanwhile): keep what is in memory; the next save writes it back.
  if (!fresh) return;
  if (fresh.brokerUrl !== state.brokerUrl)
    throw new NetPayError(
      'wrong_broker',
      `the stored wallet now belongs to the broker at ${fresh.brokerUrl}, not ${state.brokerUrl}; open it again`,
    );
  for (const k of Object.keys(state)) delete (state as Record<string, unknown>)[k];
  Object.assign(state, fresh);
  traversals.clear();
}

function traversalOf(traversals: Map<string, ChainTraversal>, c: StoredChain): ChainTraversal {
  let t = traversals.get(c.chainId);
  if (!t) {
    const r = ChainTraversal.fromJSON(c.traversal);
    if (!r.ok) throw new NetPayError('wallet_damaged', `chain ${c.chainId} has a damaged traversal state`);
    t = r.value;
    traversals.set(c.chainId, t);
  }
  return t;
}
