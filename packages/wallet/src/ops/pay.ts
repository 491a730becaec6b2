/**
 * Paying a vendor with coins (docs/protocol.md §6): pick coins worth exactly the price, step their chains'
 * traversals, and write the payment down as `sent` — the chains' new spent indexes and traversal states,
 * the header, and what to undo — before its header is handed out. A chain with a payment in flight is not
 * used again until `settle` records the vendor's answer: accepted (receipt), or refused (the coins go
 * back to their chains, since the vendor recorded nothing; exact coins refused as an overpayment also
 * mark their chains out of step, no longer used to pay). After a crash, `unsettled()` lists what to
 * send again (recoverPayments, ../pay-fetch.ts). No payword is ever handed out twice.
 */
import { encodeHeader, NetPayError, type Payment, toBase64url } from '@netpay/protocol';
import { formatWith, type WalletCore } from '../core.ts';
import type { PaymentRecord, StoredChain } from '../state.ts';
import { balance } from './history.ts';
import { count, spentToday, today } from './spending.ts';

/** A payment written down and ready to send. */
export interface PreparedPayment {
  readonly id: string;
  /** The NetPay-Payment header value. */
  readonly header: string;
  readonly amount: bigint;
  readonly parts: readonly { chainId: string; index: number; coins: number }[];
}

export interface PayInput {
  readonly amount: bigint;
  readonly vendorId: string;
  readonly resource: string;
  readonly url?: string;
  /** A request other than a plain GET, kept until the payment is settled to send it again after a crash. */
  readonly request?: PaymentRecord['request'];
  /**
   * Paid through x402: the payment goes out inside x402's `PAYMENT-SIGNATURE`, which `sentAs` writes down
   * before it leaves; `recoverPayments` sends that header again, never a `NetPay-Payment` one.
   */
  readonly x402?: boolean;
  /**
   * Daily limits, checked against today's spending in the same change that counts this payment: two
   * tabs paying at once cannot both pass. A payment counts from the moment it is made (a refusal gives it
   * back).
   */
  readonly limits?: { perVendorPerDay?: bigint | undefined; perDay?: bigint | undefined };
}

/** One chain's state before a payment: enough to undo it if the vendor refuses. */
type Undo = NonNullable<PaymentRecord['undo']>[number];

/** Most coins one payment takes from one chain (vendors accept up to 1,000 by default). */
const MAX_COINS_PER_CHAIN = 1000;

/** Makes a payment of exactly `amount` for `resource` at `vendorId`, written down as sent; its header. */
export function pay(w: WalletCore, input: PayInput) {
  return w.exclusive(async (): Promise<PreparedPayment> => {
    if (input.amount <= 0n) throw new NetPayError('bad_amount', 'a payment is a positive amount');
    checkLimits(w, input);
    const picked = select(w, input.amount, input.vendorId);
    if (!picked) throw await notEnoughCoins(w, input.amount);
    const { parts, undo } = spend(w, picked, input.vendorId);
    const header = encodeHeader({ v: 1, parts } satisfies Payment);
    const record: PaymentRecord = {
      id: w.key(),
      at: new Date(w.clock()).toISOString(),
      vendorId: input.vendorId,
      resource: input.resource,
      amount: input.amount.toString(),
      parts: picked.map((p) => ({ chainId: p.chain.chainId, index: p.chain.spent, coins: p.coins })),
      status: 'sent',
      ...(input.url ? { url: input.url } : {}),
      ...(input.request ? { request: input.request } : {}),
      ...(input.x402 ? { x402: {} } : {}),
      header,
      undo,
    };
    w.state.history.push(record);
    count(w, today(w), input.vendorId, input.amount);
    await w.save(); // before the header leaves this function
    return { id: record.id, header, amount: input.amount, parts: record.parts };
  });
}

function checkLimits(w: WalletCore, input: PayInput) {
  const over = (limit: bigint | undefined, spent: bigint) =>
    limit !== undefined && spent + input.amount > limit;
  if (over(input.limits?.perVendorPerDay, spentToday(w, input.vendorId)))
    throw new NetPayError(
      'over_vendor_daily_limit',
      `this payment would take today's spending at ${input.vendorId} past its limit`,
      { status: 402 },
    );
  if (over(input.limits?.perDay, spentToday(w, '*')))
    throw new NetPayError('over_daily_limit', "this payment would take today's spending past its limit", {
      status: 402,
    });
}

async function notEnoughCoins(w: WalletCore, amount: bigint) {
  const { coins } = await balance(w, { broker: false });
  const c = await w.currencyInChange();
  return new NetPayError(
    'insufficient_coins',
    `coins worth exactly ${formatWith(amount, c)} are not available (you have ${formatWith(coins, c)} in coins not in use); buy more coins, or smaller ones`,
  );
}

/**
 * Picks coins worth exactly `amount`, as few as possible: the largest denominations first, chains
 * that last paid this vendor first (no hand-over), never a chain with a payment in flight.
 */
function select(w: WalletCore, amount: bigint, vendorId: string) {
  const inFlight = w.busy();
  const usable = w.state.chains
    .filter((c) => c.status === 'active' && c.spent < c.n && !c.outOfStep && !inFlight.has(c.chainId))
    .sort((a, b) => {
      const va = BigInt(a.coinValue);
      const vb = BigInt(b.coinValue);
      if (va !== vb) return va > vb ? -1 : 1;
      return (a.lastVendor === vendorId ? 0 : 1) - (b.lastVendor === vendorId ? 0 : 1);
    });
  let rest = amount;
  const picked: { chain: StoredChain; coins: number }[] = [];
  for (const c of usable) {
    const v = BigInt(c.coinValue);
    if (v > rest) continue;
    const left = BigInt(c.n - c.spent);
    const want = rest / v;
    const take = Math.min(Number(want < left ? want : left), MAX_COINS_PER_CHAIN);
    if (take <= 0) continue;
    picked.push({ chain: c, coins: take });
    rest -= BigInt(take) * v;
    if (rest === 0n) break;
  }
  return rest === 0n ? picked : undefined;
}

/** Steps each picked chain by its coins: the payment's parts, and what undoes them. */
function spend(w: WalletCore, picked: readonly { chain: StoredChain; coins: number }[], vendorId: string) {
  const parts: Payment['parts'][number][] = [];
  const undo: Undo[] = [];
  for (const { chain, coins } of picked) {
    undo.push({
      chainId: chain.chainId,
      spent: chain.spent,
      traversal: chain.traversal,
      lastVendor: chain.lastVendor,
    });
    const t = w.traversalOf(chain);
    let last: { index: number; payword: Uint8Array } | undefined;
    for (let k = 0; k < coins; k++) last = t.next();
    if (!last || last.index !== chain.spent + coins)
      throw new NetPayError('wallet_damaged', `chain ${chain.chainId} is out of step with its traversal`);
    chain.spent = last.index;
    chain.traversal = t.toJSON();
    chain.lastVendor = vendorId;
    parts.push({ chainId: chain.chainId, index: last.index, payword: toBase64url(last.payword) });
  }
  return { parts, undo };
}

/**
 * Writes down how an x402 payment goes out, before it leaves: the URL it is sent to and the
 * `PAYMENT-SIGNATURE` value (x402 builds it around the header `pay` returned). Only while it is in flight.
 */
export function sentAs(w: WalletCore, id: string, sent: { url?: string; signature: string }) {
  return w.exclusive(async () => {
    const record = w.state.history.find((h) => h.id === id);
    if (record?.status !== 'sent' || !record.x402) return false;
    record.x402 = { signature: sent.signature };
    if (sent.url) record.url = sent.url;
    await w.save();
    return true;
  });
}

/**
 * Records the vendor's answer to a payment. `accepted` keeps its receipt; without one, a `code` says why
 * the coins count as spent anyway (the answer did not tell). A definitive refusal (the vendor recorded
 * nothing) gives the coins back to their chains, which had no other payment since.
 */
export function settle(
  w: WalletCore,
  id: string,
  outcome:
    | { accepted: true; receipt?: unknown; code?: string }
    | { accepted: false; code: string; outOfStep?: boolean },
) {
  return w.exclusive(async () => {
    const record = w.state.history.find((h) => h.id === id);
    if (record?.status !== 'sent') return;
    if (outcome.accepted) {
      record.status = 'accepted';
      if (outcome.receipt !== undefined) record.receipt = outcome.receipt;
      if (outcome.code !== undefined) record.code = outcome.code;
    } else {
      record.status = 'refused';
      record.code = outcome.code;
      count(w, record.at.slice(0, 10), record.vendorId, -BigInt(record.amount));
      giveBack(w, record);
      // Exact coins refused as too many: the vendor's state of these chains is behind (§8.4). Paying with
      // them again would be refused the same way: they are left out of payments and refunded instead.
      if (outcome.outOfStep) {
        for (const part of record.parts) {
          const c = w.state.chains.find((x) => x.chainId === part.chainId);
          if (c) c.outOfStep = true;
        }
      }
    }
    delete record.undo;
    delete record.header;
    delete record.request;
    delete record.x402;
    await w.save();
  });
}

/** A refused payment's coins back on their chains (those that had no payment since). */
function giveBack(w: WalletCore, record: PaymentRecord) {
  for (const u of record.undo ?? []) {
    const c = w.state.chains.find((x) => x.chainId === u.chainId);
    const part = record.parts.find((p) => p.chainId === u.chainId);
    if (c && part && c.spent === part.index) {
      c.spent = u.spent;
      c.traversal = u.traversal;
      c.lastVendor = u.lastVendor;
      w.traversals.delete(c.chainId);
    }
  }
}

/** Payments written down but never settled (the process stopped while they were in flight). */
export const unsettled = (w: WalletCore) =>
  w.state.history
    .filter((h) => h.status === 'sent')
    .map((h) => ({
      id: h.id,
      at: h.at,
      vendorId: h.vendorId,
      resource: h.resource,
      url: h.url,
      header: h.header,
      request: h.request,
      x402: h.x402,
    }));

/** A payment made from the server-side wallet at the broker (no coins), kept in the history. */
export function recordServerWalletPayment(
  w: WalletCore,
  input: { vendorId: string; resource: string; amount: bigint; receipt: unknown },
) {
  return w.exclusive(async () => {
    w.state.history.push({
      id: w.key(),
      at: new Date(w.clock()).toISOString(),
      vendorId: input.vendorId,
      resource: input.resource,
      amount: input.amount.toString(),
      parts: [],
      status: 'accepted',
      receipt: input.receipt,
      serverWallet: true,
    });
    await w.save();
  });
}
