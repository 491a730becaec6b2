/**
 * The checks after a crash run, read from the running processes once everything is settled: the broker's
 * audit and chain accounts (admin routes), each vendor's statement (what it accepted, what the broker
 * credited it), each customer's wallet document (the payments it holds receipts for, its chains), bank
 * account and broker balance. Each broken rule is one line; none is a pass.
 *
 * (I1) every coin a customer holds a receipt for is credited to that vendor, and nothing more;
 * (I2) no coin paid out twice (all customers here are honest, so nothing may be charged back either);
 * (I3) per chain, bought + charged back = credited + refunded + unspent, and the ledger audit balances;
 * (I4) no honest customer charged back;
 * and each customer's money adds up: bank + broker balance + unspent coins + what it paid = what it had.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createBankClient } from '@netpay/bank/client';
import type { Service } from './processes.ts';

export interface Customer {
  readonly login: string;
  readonly walletDir: string;
  bankAccount: string;
  bankToken: string;
  readonly startBank: bigint;
  /** Receipts the test itself got from `netpay fetch` commands that finished (what the customer saw). */
  readonly receipts: unknown[];
}

interface Ctx {
  readonly brokerUrl: string;
  readonly admin: string;
  readonly bankUrl: string;
}

interface WalletDoc {
  session: { token: string } | null;
  chains: { chainId: string; coinValue: string; n: number; spent: number; status: string }[];
  history: {
    vendorId: string;
    amount: string;
    status: string;
    receipt?: unknown;
    serverWallet?: boolean;
    parts: { chainId: string; coins: number }[];
  }[];
}

interface ReceiptLike {
  vendorId: string;
  parts: { chainId: string; coins: number }[];
}

export interface Figures {
  accepted: number;
  handovers: number;
  refundedChains: number;
}

export async function checkRun(ctx: Ctx, customers: readonly Customer[], vendors: readonly Service[]) {
  const v: string[] = [];
  const figures: Figures = { accepted: 0, handovers: 0, refundedChains: 0 };
  const get = async (path: string, token = ctx.admin) => {
    const res = await fetch(ctx.brokerUrl + path, { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, body: await res.json().catch(() => undefined) };
  };
  const audit = await get('/admin/audit');
  if (audit.body?.ok !== true) v.push(`the ledger audit does not balance: ${JSON.stringify(audit.body)}`);
  /** Coins each vendor was paid, by the customers' receipts. */
  const paidTo = new Map<string, bigint>();
  for (const c of customers) v.push(...(await checkCustomer(ctx, c, get, paidTo, figures)));
  for (const s of vendors) {
    const st = await (await fetch(`${s.url}/netpay/statement`)).json();
    const paid = paidTo.get(s.name) ?? 0n;
    // (I1) from the vendor's side: it accepted what the customers hold receipts for, and was credited all.
    if (BigInt(st.accepted) !== paid)
      v.push(`${s.name} accepted ${st.accepted} but customers hold receipts for ${paid}`);
    if (st.redeemed !== st.accepted || st.missing !== '0' || st.refusedClaims !== 0)
      v.push(`${s.name} was not credited all it accepted: ${JSON.stringify(st)}`);
    if (st.broker && !st.broker.matches)
      v.push(`${s.name}'s records and the broker's differ: ${JSON.stringify(st.broker)}`);
  }
  return { violations: v, figures };
}

type Get = (path: string, token?: string) => Promise<{ status: number; body: any }>;

async function checkCustomer(ctx: Ctx, c: Customer, get: Get, paidTo: Map<string, bigint>, figures: Figures) {
  const v: string[] = [];
  const doc = JSON.parse(readFileSync(join(c.walletDir, 'wallet.json'), 'utf8')) as WalletDoc;
  const coinValue = new Map(doc.chains.map((x) => [x.chainId, BigInt(x.coinValue)]));
  const accepted = new Map<string, number>();
  const lastVendor = new Map<string, string>();
  let paid = 0n;
  for (const h of doc.history) {
    if (h.status === 'sent') v.push(`${c.login}: a payment to ${h.vendorId} is still in flight`);
    if (h.status !== 'accepted' || h.serverWallet) continue;
    if (!h.receipt) v.push(`${c.login}: a payment to ${h.vendorId} counted spent without a receipt`);
    paid += BigInt(h.amount);
    paidTo.set(h.vendorId, (paidTo.get(h.vendorId) ?? 0n) + BigInt(h.amount));
    figures.accepted++;
    for (const p of h.parts) {
      accepted.set(p.chainId, (accepted.get(p.chainId) ?? 0) + p.coins);
      // A chain next spent at another vendor than before was handed over between them.
      if (lastVendor.has(p.chainId) && lastVendor.get(p.chainId) !== h.vendorId) figures.handovers++;
      lastVendor.set(p.chainId, h.vendorId);
    }
  }
  figures.refundedChains += doc.chains.filter((x) => x.status === 'refunded').length;
  // Every receipt a finished command printed is one the wallet kept.
  const kept = new Map<string, number>();
  for (const r of c.receipts as ReceiptLike[])
    for (const p of r.parts) kept.set(p.chainId, (kept.get(p.chainId) ?? 0) + p.coins);
  let unspent = 0n;
  for (const chain of doc.chains) {
    if (chain.status === 'pending')
      v.push(`${c.login}: chain ${chain.chainId} was never bought nor given up`);
    if (chain.status === 'active') unspent += BigInt(chain.n - chain.spent) * BigInt(chain.coinValue);
  }
  for (const chain of doc.chains.filter((x) => x.status !== 'pending')) {
    const a = await get(`/admin/chains/${chain.chainId}`);
    if (a.status !== 200) {
      v.push(`${c.login}: the broker has no chain ${chain.chainId}: ${JSON.stringify(a.body)}`);
      continue;
    }
    const value = coinValue.get(chain.chainId)!;
    const receipted = BigInt(accepted.get(chain.chainId) ?? 0) * value;
    const account = a.body;
    if (!account.balanced) v.push(`(I3) chain ${chain.chainId} does not balance: ${JSON.stringify(account)}`);
    if (account.doubledCoins !== 0)
      v.push(`(I2) chain ${chain.chainId}: coins paid twice: ${JSON.stringify(account)}`);
    if (account.chargedBackCoins !== 0) v.push(`(I4) ${c.login} (honest) charged back on ${chain.chainId}`);
    if (BigInt(account.credited) !== receipted)
      v.push(`(I1) chain ${chain.chainId}: credited ${account.credited}, receipted ${receipted}`);
    if (BigInt(kept.get(chain.chainId) ?? 0) * value > receipted)
      v.push(`(I1) chain ${chain.chainId}: the wallet lost receipts the customer was shown`);
    if (chain.status === 'refunded' && account.status === 'active')
      v.push(`${c.login}: chain ${chain.chainId} refunded in the wallet, not at the broker`);
    if (chain.status === 'active' && account.status !== 'active' && chain.spent < chain.n)
      v.push(
        `${c.login}: chain ${chain.chainId} is ${account.status} at the broker but the wallet counts its coins`,
      );
  }
  // The customer's money: bank + broker balance + unspent coins + what it paid for = what it started with.
  const bank = await createBankClient(ctx.bankUrl).getAccount(c.bankToken, c.bankAccount);
  const me = await get('/me', doc.session?.token ?? '');
  if (me.status !== 200) v.push(`${c.login}: cannot read the broker balance: ${JSON.stringify(me.body)}`);
  const atBroker = BigInt(me.body?.balance ?? 0);
  const total = bank.balance + atBroker + unspent + paid;
  if (total !== c.startBank)
    v.push(
      `${c.login}: coins do not add up: bank ${bank.balance} + broker ${atBroker} + unspent ${unspent} + paid ${paid} = ${total}, started with ${c.startBank}`,
    );
  return v;
}
