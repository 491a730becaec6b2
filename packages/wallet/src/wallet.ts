/**
 * The customer's wallet (client-side e-wallet): keeps its chains' seeds and traversal states in a
 * storage, buys chains from the broker (which sees only their roots), and pays vendors with paywords.
 *
 * `openWallet` is the core (core.ts: the document, the broker's client, one change at a time) with one
 * module per operation bound to it (ops/): account (register, verify, login, sign out), send (load,
 * unload, send at the broker), buy (and resume a purchase whose answer was lost), pay (pay, settle,
 * unsettled), refund, spending (daily limits), grants (server-side wallets) and history (balance, chains,
 * payments). The CLI (`netpay wallet …`), the web wallet and pay frame, and `createPayFetch` all call
 * these same operations.
 *
 * Crash safety: a payment is written down before its header is handed out (ops/pay.ts), a purchase's
 * seeds before it is sent (ops/buy.ts); no payword is ever handed out twice.
 */
import type { GrantPeriod } from './broker-api.ts';
import { formatWith, type OpenWalletOptions, openCore } from './core.ts';
import * as account from './ops/account.ts';
import { buy, type ChainOrder, resume } from './ops/buy.ts';
import * as grant from './ops/grants.ts';
import { balance, chains, history } from './ops/history.ts';
import { type PayInput, pay, recordServerWalletPayment, sentAs, settle, unsettled } from './ops/pay.ts';
import { refund } from './ops/refund.ts';
import { type KeyedOptions, load, send, unload } from './ops/send.ts';
import { addSpending, spentToday } from './ops/spending.ts';

export type { OpenWalletOptions } from './core.ts';
export type { ChainOrder } from './ops/buy.ts';
export type { PayInput, PreparedPayment } from './ops/pay.ts';
export type { KeyedOptions } from './ops/send.ts';

export async function openWallet(o: OpenWalletOptions) {
  const w = await openCore(o);
  return {
    get brokerUrl() {
      return w.state.brokerUrl;
    },
    get signedInAs() {
      return w.state.session?.login ?? null;
    },
    get sessionToken() {
      return w.state.session?.token ?? null;
    },
    api: w.api,
    refresh: w.refresh,
    currency: w.currency,
    format: async (minor: bigint) => formatWith(minor, await w.currency()),
    register: (input: Parameters<typeof account.register>[1]) => account.register(w, input),
    verify: (code: string) => account.verify(w, code),
    login: (input: Parameters<typeof account.login>[1]) => account.login(w, input),
    signOut: () => account.signOut(w),
    load: (amount: bigint, bank: { account: string; token: string }, o?: KeyedOptions) =>
      load(w, amount, bank, o),
    unload: (amount: bigint, bankAccount: string, o?: KeyedOptions) => unload(w, amount, bankAccount, o),
    send: (to: string, amount: bigint, o?: KeyedOptions) => send(w, to, amount, o),
    buy: (orders: readonly ChainOrder[], onProgress?: (done: number, total: number) => void) =>
      buy(w, orders, onProgress),
    resume: () => resume(w),
    balance: (options?: { broker?: boolean }) => balance(w, options),
    pay: (input: PayInput) => pay(w, input),
    sentAs: (id: string, sent: Parameters<typeof sentAs>[2]) => sentAs(w, id, sent),
    settle: (id: string, outcome: Parameters<typeof settle>[2]) => settle(w, id, outcome),
    unsettled: () => unsettled(w),
    recordServerWalletPayment: (input: Parameters<typeof recordServerWalletPayment>[1]) =>
      recordServerWalletPayment(w, input),
    refund: (chainIds?: readonly string[]) => refund(w, chainIds),
    spentToday: (vendorId: string | '*') => spentToday(w, vendorId),
    addSpending: (vendorId: string, amount: bigint) => addSpending(w, vendorId, amount),
    serverGrant: (origin: string) => grant.serverGrant(w, origin),
    setServerGrant: (origin: string, cookie: string | null) => grant.setServerGrant(w, origin, cookie),
    grants: () => grant.grants(w),
    setGrantCap: (vendorId: string, cap: bigint, period?: GrantPeriod) =>
      grant.setGrantCap(w, vendorId, cap, period),
    withdrawGrant: (vendorId: string) => grant.withdrawGrant(w, vendorId),
    history: () => history(w),
    chains: () => chains(w),
  };
}

export type Wallet = Awaited<ReturnType<typeof openWallet>>;
