import {
  ChainTraversal,
  encodeHeader,
  formatAmount,
  currency as makeCurrency,
  money,
  NetPayError,
  type Payment,
  randomBytes,
  toBase64url,
} from '@netpay/protocol';
import {
  type BrokerApi,
  createBrokerApi,
  type GrantPeriod,
  grantFromWire,
  type WalletGrant,
} from './broker-api.ts';
import { emptyState, type PaymentRecord, type StoredChain, type WalletState } from './state.ts';
import type { WalletStorage } from './storage.ts';

export interface OpenWalletOptions {
  readonly storage: WalletStorage;
  /** The broker this wallet buys from; needed the first time, must match afterwards. */
  readonly brokerUrl?: string;
  readonly fetch?: typeof fetch;
  readonly clock?: () => number;
}

/** What the wallet keeps of a session the broker gave it (the broker's answer may carry more). */
const sessionOf = (s: { token: string; customerId: string; deviceId: string }, login: string) => ({
  token: s.token,
  customerId: s.customerId,
  deviceId: s.deviceId,
  login,
});

/** One chain's state before a payment: enough to undo it if the vendor refuses. */
type Undo = NonNullable<PaymentRecord['undo']>[number];

/** A payment written down and ready to send. */
export interface PreparedPayment {
  readonly id: string;
  /** The NetPay-Payment header value. */
  readonly header: string;
  readonly amount: bigint;
  readonly parts: readonly { chainId: string; index: number; coins: number }[];
}

/** Most coins one payment takes from one chain (vendors accept up to 1,000 by default). */
const MAX_COINS_PER_CHAIN = 1000;

/**
 * The customer's wallet (client-side e-wallet): keeps its chains' seeds and traversal states in a
 * storage, buys chains from the broker (which sees only their roots), and pays vendors with paywords.
 *
 * Crash safety: a payment is written down — the chains' new spent indexes and traversal states, and a
 * `sent` record holding the header and what to undo — before its header is handed out. A chain with a
 * payment in flight is not used again until that payment is settled: accepted (receipt), refused (its
 * coins are given back to the chain, since the vendor recorded nothing), or, after a crash, resolved by
 * sending the same header again (`recover`), which the vendor answers with the same receipt if it had
 * accepted it. No payword is ever handed out twice.
 *
 * Several instances over one storage (the web wallet's tab and a vendor page's wallet frame over one
 * IndexedDB record) take turns when the storage has a `lock`: each change reads the stored document first
 * and saves it before the next one starts. Reads (`history`, `balance`, `chains`) show the document as of
 * this instance's last change; `refresh()` reads in what the others changed since.
 */
export async function openWallet(o: OpenWalletOptions) {
  const clock = o.clock ?? Date.now;
  const stored = await o.storage.load();
  if (!stored && !o.brokerUrl)
    throw new NetPayError('no_wallet', 'there is no wallet here yet: give the broker URL to create one');
  if (stored && o.brokerUrl && stored.brokerUrl.replace(/\/+$/, '') !== o.brokerUrl.replace(/\/+$/, '')) {
    throw new NetPayError(
      'wrong_broker',
      `this wallet belongs to the broker at ${stored.brokerUrl}, not ${o.brokerUrl}; use another wallet folder`,
    );
  }
  const state: WalletState = stored ?? emptyState(o.brokerUrl!.replace(/\/+$/, ''));
  const api: BrokerApi = createBrokerApi(state.brokerUrl, o.fetch);
  const traversals = new Map<string, ChainTraversal>();

  /**
   * Reads the document again (another wallet instance over the same storage may have changed it) into
   * `state` in place, since everything holds that object, and forgets the traversals made from the old one.
   */
  async function reload() {
    const fresh = await o.storage.load();
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

  // One change at a time, each saved before it resolves: in this instance by a queue, and across the
  // instances sharing the storage (browser tabs) by its lock, under which the change starts from the
  // stored document. A storage without a lock is this instance's alone (fileStorage: one process per
  // wallet folder). No change runs another change (`exclusive` inside `exclusive` would wait forever).
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
    const step = o.storage.lock
      ? () =>
          o.storage.lock!(async () => {
            await reload();
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
    return o.storage.save(state);
  };

  /** Reads in what other instances over the same storage (other tabs) changed since: history, coins. */
  async function refresh() {
    await exclusive(async () => {
      if (!o.storage.lock) await reload();
    });
  }

  const session = () => {
    if (!state.session) throw new NetPayError('not_signed_in', 'sign in first (netpay wallet login)');
    return state.session.token;
  };
  const key = () => toBase64url(randomBytes(16));

  /** The broker's currency, asked once and kept; inside a change (`exclusive`) only. */
  async function currencyInChange() {
    if (!state.currency) {
      const c = await api.config({});
      state.currency = { code: c.currency, exponent: c.exponent };
      await save();
    }
    return makeCurrency(state.currency.code, state.currency.exponent);
  }
  /** The broker's currency (a change the first time: it is written down). */
  async function currency() {
    return state.currency
      ? makeCurrency(state.currency.code, state.currency.exponent)
      : exclusive(currencyInChange);
  }
  const formatWith = (minor: bigint, c: Awaited<ReturnType<typeof currency>>) =>
    formatAmount(money(minor, c));
  const format = async (minor: bigint) => formatWith(minor, await currency());

  function traversalOf(c: StoredChain): ChainTraversal {
    let t = traversals.get(c.chainId);
    if (!t) {
      const r = ChainTraversal.fromJSON(c.traversal);
      if (!r.ok) throw new NetPayError('wallet_damaged', `chain ${c.chainId} has a damaged traversal state`);
      t = r.value;
      traversals.set(c.chainId, t);
    }
    return t;
  }

  /** Chains with a payment in flight (not settled yet): not used for new payments. */
  const busy = () =>
    new Set(state.history.filter((h) => h.status === 'sent').flatMap((h) => h.parts.map((p) => p.chainId)));

  // Accounts

  async function register(input: { login: string; password: string; deviceName?: string }) {
    return exclusive(async () => {
      const r = await api.register({
        body: { login: input.login, password: input.password, deviceName: input.deviceName ?? 'wallet' },
        key: key(),
      });
      state.pendingDevice = { deviceId: r.deviceId, login: input.login };
      await save();
      return { customerId: r.customerId, deviceId: r.deviceId, codeSentTo: input.login };
    });
  }

  async function verify(code: string) {
    return exclusive(async () => {
      if (!state.pendingDevice)
        throw new NetPayError(
          'nothing_to_verify',
          'register or sign in first; then enter the code you were sent',
        );
      const r = await api.verifyDevice({
        params: { deviceId: state.pendingDevice.deviceId },
        body: { code },
      });
      state.session = sessionOf(r.session, state.pendingDevice.login);
      state.pendingDevice = null;
      await save();
      return { customerId: r.session.customerId };
    });
  }

  async function login(input: { login: string; password: string; totp?: string }) {
    return exclusive(async () => {
      const deviceId = state.session?.login === input.login ? state.session.deviceId : undefined;
      const r = await api.login({
        body: {
          login: input.login,
          password: input.password,
          deviceName: 'wallet',
          ...(deviceId ? { deviceId } : {}),
          ...(input.totp ? { totp: input.totp } : {}),
        },
      });
      if (r.verificationRequired) {
        state.pendingDevice = { deviceId: r.deviceId, login: input.login };
        await save();
        return { verificationRequired: true as const };
      }
      state.session = sessionOf(r.session, input.login);
      state.pendingDevice = null;
      await save();
      return { verificationRequired: false as const };
    });
  }

  /**
   * Forgets the session (and ends it at the broker when it can be reached). Coins and history stay; use
   * it to sign in as someone else, or when the broker no longer knows the session.
   */
  async function signOut() {
    return exclusive(async () => {
      const token = state.session?.token;
      state.session = null;
      state.pendingDevice = null;
      await save();
      if (token) {
        await api.logout({ token }).catch(() => {});
      }
    });
  }

  // Money at the broker

  async function load(amount: bigint, bank: { account: string; token: string }) {
    const body = { amount: amount.toString(), bankAccount: bank.account, bankToken: bank.token };
    const k = key();
    // Sent again with the same key if the answer is lost: the broker loads once per key.
    const r = await api.load({ token: session(), body, key: k }).catch((e) => {
      if (e instanceof NetPayError && e.code === 'broker_unreachable')
        return api.load({ token: session(), body, key: k });
      throw e;
    });
    return { amount: BigInt(r.amount), balance: BigInt(r.balance) };
  }

  async function unload(amount: bigint, bankAccount: string) {
    const r = await api.unload({
      token: session(),
      body: { amount: amount.toString(), bankAccount },
      key: key(),
    });
    return { amount: BigInt(r.amount), balance: BigInt(r.balance) };
  }

  async function send(to: string, amount: bigint) {
    const r = await api.send({
      token: session(),
      body: { to, amount: amount.toString() },
      key: key(),
    });
    return { to: r.to, amount: BigInt(r.amount), balance: BigInt(r.balance) };
  }

  // Coins

  /**
   * Buys chains: `count` chains of `n` coins worth `coinValue` each. The seeds are made and written down
   * first (status pending, with the purchase's idempotency key), so a purchase whose answer is lost is
   * completed by `resume()` instead of being paid twice or lost.
   */
  async function buy(
    orders: readonly { coinValue: bigint; n: number; count?: number }[],
    onProgress?: (done: number, total: number) => void,
  ) {
    return exclusive(async () => {
      const token = session();
      await currencyInChange();
      const buyKey = key();
      const total = orders.reduce((a, x) => a + x.n * (x.count ?? 1), 0);
      let done = 0;
      const fresh: StoredChain[] = [];
      for (const order of orders) {
        for (let k = 0; k < (order.count ?? 1); k++) {
          const seed = randomBytes(32);
          const id = randomBytes(16);
          const base = done;
          const { traversal, root } = ChainTraversal.create(seed, id, order.n, (d) =>
            onProgress?.(base + d, total),
          );
          done += order.n;
          onProgress?.(done, total);
          const c: StoredChain = {
            chainId: toBase64url(id),
            coinValue: order.coinValue.toString(),
            n: order.n,
            seed: toBase64url(seed),
            root: toBase64url(root),
            status: 'pending',
            buyKey,
            touchstone: null,
            spent: 0,
            traversal: traversal.toJSON(),
            lastVendor: null,
          };
          traversals.set(c.chainId, traversal);
          fresh.push(c);
        }
      }
      state.chains.push(...fresh);
      await save();
      return completePurchase(token, fresh);
    });
  }

  async function completePurchase(token: string, pending: StoredChain[]) {
    try {
      const r = await api.buy({
        token,
        key: pending[0]!.buyKey,
        body: {
          chains: pending.map((c) => ({ coinValue: c.coinValue, n: c.n, chainId: c.chainId, root: c.root })),
        },
      });
      const byId = new Map(r.chains.map((c) => [c.chainId, c.touchstone]));
      for (const c of pending) {
        c.touchstone = byId.get(c.chainId) ?? null;
        c.status = c.touchstone ? 'active' : c.status;
      }
      await save();
      return { chains: pending.map((c) => c.chainId), total: BigInt(r.total), balance: BigInt(r.balance) };
    } catch (e) {
      // A refusal (no money, a limit): nothing was bought; forget the seeds. An outage: keep them pending.
      if (e instanceof NetPayError && e.status !== undefined && e.status < 500) {
        const gone = new Set(pending.map((c) => c.chainId));
        state.chains = state.chains.filter((c) => !gone.has(c.chainId));
        await save();
      }
      throw e;
    }
  }

  /** Completes purchases whose answer was lost (retried with their key: the broker answers once). */
  async function resume() {
    return exclusive(async () => {
      const pending = state.chains.filter((c) => c.status === 'pending');
      const byKey = new Map<string, StoredChain[]>();
      for (const c of pending) byKey.set(c.buyKey, [...(byKey.get(c.buyKey) ?? []), c]);
      for (const group of byKey.values()) await completePurchase(session(), group);
      return { completed: pending.length };
    });
  }

  /** Coins left by denomination and in total (local chains), and the money at the broker not in coins. */
  async function balance(options: { broker?: boolean } = {}) {
    const byDenomination = new Map<string, { coins: number; value: bigint; chains: number }>();
    let coins = 0n;
    for (const c of state.chains) {
      if (c.status !== 'active') continue;
      const left = c.n - c.spent;
      const d = byDenomination.get(c.coinValue) ?? { coins: 0, value: 0n, chains: 0 };
      d.coins += left;
      d.value += BigInt(left) * BigInt(c.coinValue);
      d.chains += 1;
      byDenomination.set(c.coinValue, d);
      coins += BigInt(left) * BigInt(c.coinValue);
    }
    const atBroker =
      options.broker !== false && state.session ? BigInt((await api.me({ token: session() })).balance) : null;
    return {
      coins,
      atBroker,
      denominations: [...byDenomination.entries()]
        .map(([coinValue, d]) => ({ coinValue: BigInt(coinValue), ...d }))
        .sort((a, b) => (a.coinValue < b.coinValue ? 1 : -1)),
    };
  }

  /**
   * Picks coins worth exactly `amount`, as few as possible: the largest denominations first, chains
   * that last paid this vendor first (no hand-over), never a chain with a payment in flight.
   */
  function select(amount: bigint, vendorId: string) {
    const inFlight = busy();
    const usable = state.chains
      .filter((c) => c.status === 'active' && c.spent < c.n && !inFlight.has(c.chainId))
      .sort((a, b) => {
        const va = BigInt(a.coinValue);
        const vb = BigInt(b.coinValue);
        if (va !== vb) return va > vb ? -1 : 1;
        const sa = a.lastVendor === vendorId ? 0 : 1;
        const sb = b.lastVendor === vendorId ? 0 : 1;
        return sa - sb;
      });
    let rest = amount;
    const picked: { chain: StoredChain; coins: number }[] = [];
    for (const c of usable) {
      const v = BigInt(c.coinValue);
      if (v > rest) continue;
      const want = rest / v;
      const coins = Number(want < BigInt(c.n - c.spent) ? want : BigInt(c.n - c.spent));
      const take = Math.min(coins, MAX_COINS_PER_CHAIN);
      if (take <= 0) continue;
      picked.push({ chain: c, coins: take });
      rest -= BigInt(take) * v;
      if (rest === 0n) break;
    }
    return rest === 0n ? picked : undefined;
  }

  /**
   * Makes a payment of exactly `amount` for `resource` at `vendorId`, writes it down as sent and returns
   * its header. Settle it with `settle` once the vendor answered.
   */
  async function pay(input: {
    amount: bigint;
    vendorId: string;
    resource: string;
    url?: string;
    /** A request other than a plain GET, kept until the payment is settled to send it again after a crash. */
    request?: PaymentRecord['request'];
    /**
     * Daily limits, checked against today's spending in the same change that counts this payment: two
     * tabs paying at once cannot both pass. A payment counts from the moment it is made (a refusal gives it
     * back).
     */
    limits?: { perVendorPerDay?: bigint | undefined; perDay?: bigint | undefined };
  }) {
    return exclusive(async (): Promise<PreparedPayment> => {
      if (input.amount <= 0n) throw new NetPayError('bad_amount', 'a payment is a positive amount');
      const over = (limit: bigint | undefined, spent: bigint) =>
        limit !== undefined && spent + input.amount > limit;
      if (over(input.limits?.perVendorPerDay, spentToday(input.vendorId)))
        throw new NetPayError(
          'over_vendor_daily_limit',
          `this payment would take today's spending at ${input.vendorId} past its limit`,
          { status: 402 },
        );
      if (over(input.limits?.perDay, spentToday('*')))
        throw new NetPayError('over_daily_limit', "this payment would take today's spending past its limit", {
          status: 402,
        });
      const picked = select(input.amount, input.vendorId);
      if (!picked) {
        const { coins } = await balance({ broker: false });
        const c = await currencyInChange();
        throw new NetPayError(
          'insufficient_coins',
          `coins worth exactly ${formatWith(input.amount, c)} are not available (you have ${formatWith(coins, c)} in coins not in use); buy more coins, or smaller ones`,
        );
      }
      const parts: Payment['parts'][number][] = [];
      const undone: Undo[] = [];
      for (const { chain, coins } of picked) {
        undone.push({
          chainId: chain.chainId,
          spent: chain.spent,
          traversal: chain.traversal,
          lastVendor: chain.lastVendor,
        });
        const t = traversalOf(chain);
        let last: { index: number; payword: Uint8Array } | undefined;
        for (let k = 0; k < coins; k++) last = t.next();
        if (!last || last.index !== chain.spent + coins)
          throw new NetPayError('wallet_damaged', `chain ${chain.chainId} is out of step with its traversal`);
        chain.spent = last.index;
        chain.traversal = t.toJSON();
        chain.lastVendor = input.vendorId;
        parts.push({ chainId: chain.chainId, index: last.index, payword: toBase64url(last.payword) });
      }
      const header = encodeHeader({ v: 1, parts } satisfies Payment);
      const record: PaymentRecord = {
        id: key(),
        at: new Date(clock()).toISOString(),
        vendorId: input.vendorId,
        resource: input.resource,
        amount: input.amount.toString(),
        parts: picked.map((p) => ({ chainId: p.chain.chainId, index: p.chain.spent, coins: p.coins })),
        status: 'sent',
        ...(input.url ? { url: input.url } : {}),
        ...(input.request ? { request: input.request } : {}),
        header,
        undo: undone,
      };
      state.history.push(record);
      count(today(), input.vendorId, input.amount);
      await save(); // before the header leaves this function
      return { id: record.id, header, amount: input.amount, parts: record.parts };
    });
  }

  /**
   * Records the vendor's answer to a payment. `accepted` keeps its receipt. A definitive refusal (the
   * vendor recorded nothing) gives the coins back to their chains, which had no other payment since.
   */
  async function settle(
    id: string,
    outcome: { accepted: true; receipt?: unknown } | { accepted: false; code: string },
  ) {
    return exclusive(async () => {
      const record = state.history.find((h) => h.id === id);
      if (record?.status !== 'sent') return;
      if (outcome.accepted) {
        record.status = 'accepted';
        if (outcome.receipt !== undefined) record.receipt = outcome.receipt;
      } else {
        record.status = 'refused';
        record.code = outcome.code;
        count(record.at.slice(0, 10), record.vendorId, -BigInt(record.amount));
        for (const u of record.undo ?? []) {
          const c = state.chains.find((x) => x.chainId === u.chainId);
          const part = record.parts.find((p) => p.chainId === u.chainId);
          if (c && part && c.spent === part.index) {
            c.spent = u.spent;
            c.traversal = u.traversal;
            c.lastVendor = u.lastVendor;
            traversals.delete(c.chainId);
          }
        }
      }
      delete record.undo;
      delete record.header;
      delete record.request;
      await save();
    });
  }

  /** Payments written down but never settled (the process stopped while they were in flight). */
  const unsettled = () =>
    state.history
      .filter((h) => h.status === 'sent')
      .map((h) => ({
        id: h.id,
        at: h.at,
        vendorId: h.vendorId,
        resource: h.resource,
        url: h.url,
        header: h.header,
        request: h.request,
      }));

  async function recordServerWalletPayment(input: {
    vendorId: string;
    resource: string;
    amount: bigint;
    receipt: unknown;
  }) {
    return exclusive(async () => {
      state.history.push({
        id: key(),
        at: new Date(clock()).toISOString(),
        vendorId: input.vendorId,
        resource: input.resource,
        amount: input.amount.toString(),
        parts: [],
        status: 'accepted',
        receipt: input.receipt,
        serverWallet: true,
      });
      await save();
    });
  }

  /**
   * Hands unspent coins back to the broker (to the wallet's broker balance), chain by chain. Each refund
   * states the highest index this wallet spent, so the broker refunds exactly the rest (docs/broker.md
   * §12). A refund the broker holds pending (the holder does not answer and its lease still runs, at most
   * the lease length) is asked again after the time it names.
   */
  async function refund(chainIds?: readonly string[]) {
    return exclusive(async () => {
      const inFlight = busy();
      const targets = state.chains.filter(
        (c) =>
          c.status === 'active' &&
          c.spent < c.n &&
          !inFlight.has(c.chainId) &&
          (chainIds === undefined || chainIds.includes(c.chainId)),
      );
      let amount = 0n;
      const refunded: string[] = [];
      for (const c of targets) {
        const r = await refundChain(c.chainId, c.spent);
        c.status = 'refunded';
        amount += BigInt(r.amount);
        refunded.push(c.chainId);
        await save();
      }
      return { chains: refunded, amount };
    });
  }

  /** One chain's refund, asked again while the broker answers pending (a few times, as it says). */
  async function refundChain(chainId: string, spentIndex: number) {
    for (let attempt = 0; ; attempt++) {
      const r = await api.refund({
        params: { chainId },
        token: session(),
        key: key(),
        body: { spentIndex },
      });
      if (r.status === 'refunded') return r;
      if (attempt >= 4)
        throw new NetPayError('refund_pending', `the broker is still refunding ${chainId}; try again later`);
      const wait = Math.max(1, Number(r.retryAfter));
      await new Promise((done) => setTimeout(done, wait * 1000));
    }
  }

  /** Spending so far today per vendor (for the spend policy) and a way to add to it. */
  const today = () => new Date(clock()).toISOString().slice(0, 10);
  function spentToday(vendorId: string | '*') {
    return BigInt(state.spending[`${today()}|${vendorId}`] ?? '0');
  }
  /** Adds to (or, for a refused payment, takes back from) a day's spending; the caller saves. */
  function count(day: string, vendorId: string, amount: bigint) {
    for (const k of [`${day}|${vendorId}`, `${day}|*`]) {
      const total = BigInt(state.spending[k] ?? '0') + amount;
      if (total > 0n) state.spending[k] = total.toString();
      else delete state.spending[k];
    }
    // Keep a week of days.
    for (const k of Object.keys(state.spending)) if (k.slice(0, 10) < isoDaysAgo(7)) delete state.spending[k];
  }
  async function addSpending(vendorId: string, amount: bigint) {
    return exclusive(async () => {
      count(today(), vendorId, amount);
      await save();
    });
  }
  const isoDaysAgo = (d: number) => new Date(clock() - d * 86_400_000).toISOString().slice(0, 10);

  async function setServerGrant(origin: string, cookie: string | null) {
    return exclusive(async () => {
      if (cookie === null) delete state.serverGrants[origin];
      else state.serverGrants[origin] = cookie;
      await save();
    });
  }

  // Server-side wallets at the broker (docs/broker.md §16a): the cap each vendor may charge.

  /** Every vendor's grant with its cap and what was spent in the current period (withdrawn ones too). */
  async function grants(): Promise<WalletGrant[]> {
    const r = await api.grants({ token: session() });
    return r.grants.map(grantFromWire);
  }

  /**
   * Sets the cap `vendorId` may charge per `period` (also before signing in there; without a period an
   * existing grant keeps its own, a new one is per day). Returns the grant.
   */
  async function setGrantCap(vendorId: string, cap: bigint, period?: GrantPeriod): Promise<WalletGrant> {
    if (cap < 0n) throw new NetPayError('bad_amount', 'a spending cap is zero or more');
    return grantFromWire(
      await api.setCap({
        params: { vendorId },
        token: session(),
        body: { cap: cap.toString(), ...(period ? { period } : {}) },
      }),
    );
  }

  /** Withdraws `vendorId`'s grant: every browser signed in there stops paying at once. */
  async function withdrawGrant(vendorId: string): Promise<void> {
    await api.revoke({ params: { vendorId }, token: session() });
  }

  // A new wallet is written down as a change: another tab may have created it meanwhile.
  if (!stored) await exclusive(save);

  return {
    get brokerUrl() {
      return state.brokerUrl;
    },
    get signedInAs() {
      return state.session?.login ?? null;
    },
    get sessionToken() {
      return state.session?.token ?? null;
    },
    api,
    refresh,
    currency,
    format,
    register,
    verify,
    login,
    signOut,
    load,
    unload,
    send,
    buy,
    resume,
    balance,
    pay,
    settle,
    unsettled,
    recordServerWalletPayment,
    refund,
    spentToday,
    addSpending,
    serverGrant: (origin: string) => state.serverGrants[origin],
    setServerGrant,
    grants,
    setGrantCap,
    withdrawGrant,
    history: () => state.history.map((h) => ({ ...h })),
    chains: () =>
      state.chains.map((c) => ({
        chainId: c.chainId,
        coinValue: BigInt(c.coinValue),
        n: c.n,
        spent: c.spent,
        status: c.status,
        lastVendor: c.lastVendor,
      })),
  };
}

export type Wallet = Awaited<ReturnType<typeof openWallet>>;
