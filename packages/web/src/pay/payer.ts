/**
 * How the wallet frame pays a page's request: only a vendor the broker has registered at the page's own
 * origin, within the customer's limits for that shop, asking above the "ask" amount, and nothing once the
 * page has stopped waiting. The page gets the response (and what was paid), never the wallet's state.
 */
import { brokerApi, createClient } from '@netpay/api';
import { currency, formatMoney, money } from '@netpay/protocol';
import {
  createPayFetch,
  type PaidInfo,
  paymentDeclined,
  type SpendPolicy,
  type Terms,
  type Wallet,
} from '@netpay/wallet';
import { limitFor, type ShopLimit } from '../limits.ts';
import { ask } from './ask.ts';
import type { PayRequest } from './messages.ts';

export interface FrameConfig {
  readonly broker: string;
  readonly shops: readonly { id: string }[];
}

/** What the frame's payer keeps across requests: the wallet, the page's window, and how to show money. */
interface Payer {
  readonly wallet: Wallet;
  /** The page's window, where a question to the customer is shown. */
  readonly peer: Window;
  readonly show: (minor: bigint) => string;
  readonly limitOf: (vendorId: string) => ShopLimit;
  readonly party: ReturnType<typeof partyLookup>;
}

/** One page request being paid, and the vendors found registered at the page's origin so far. */
interface Payment {
  readonly request: PayRequest;
  readonly pageOrigin: string;
  readonly verified: Set<string>;
}

export async function framePayer(wallet: Wallet, config: FrameConfig, peer: Window) {
  const c = await wallet.currency();
  const cur = currency(c.code, c.exponent);
  const payer: Payer = {
    wallet,
    peer,
    show: (m: bigint) => formatMoney(money(m, cur)),
    limitOf: (vendorId: string) =>
      limitFor(
        vendorId,
        config.shops.some((s) => s.id === vendorId),
      ),
    party: partyLookup(config.broker),
  };
  return (request: PayRequest, pageOrigin: string) => pay(payer, request, pageOrigin);
}

async function pay(payer: Payer, request: PayRequest, pageOrigin: string) {
  await payer.wallet.refresh(); // another tab (the wallet page, another shop) may have changed it
  const payment: Payment = { request, pageOrigin, verified: new Set<string>() };
  pageWaits(request);
  const payFetch = createPayFetch(payer.wallet, { policy: policyFor(payer, payment) });
  const res: Response & { netpay?: PaidInfo } = await payFetch(request.url, {
    method: request.method,
    headers: request.headers,
    redirect: 'error',
    signal: AbortSignal.timeout(60_000),
    ...(request.body === null ? {} : { body: request.body }),
  });
  return answerForPage(res, payer.show);
}

/** The page has stopped waiting: pay nothing it will not see. */
function pageWaits(request: PayRequest): true {
  if (Date.now() >= request.deadline) throw paymentDeclined('expired', 'the page stopped waiting');
  return true;
}

function policyFor(payer: Payer, payment: Payment): SpendPolicy {
  return {
    // Only for a vendor found at this page's origin (a page learns nothing of other shops' limits).
    maxPerVendorPerDay: (vendorId) =>
      payment.verified.has(vendorId) ? BigInt(payer.limitOf(vendorId).perDay) : undefined,
    ask: (terms: Terms) => approve(payer, payment, terms),
  };
}

/**
 * Whether to pay what these terms ask: the vendor must be registered at the page's origin, the coins must
 * cover the price, the day's limit must hold, and above the "ask" amount the customer says yes.
 */
async function approve(payer: Payer, { request, pageOrigin, verified }: Payment, terms: Terms) {
  const { wallet, show } = payer;
  const vendor = await payer.party(terms.vendorId);
  if (!vendor?.url || new URL(vendor.url).origin !== pageOrigin)
    throw paymentDeclined('vendor_mismatch', 'not the registered origin', terms);
  const price = BigInt(terms.price);
  const { coins } = await wallet.balance({ broker: false });
  if (coins < price) throw paymentDeclined('no_coins', 'not enough coins', terms);
  verified.add(terms.vendorId);
  // The day's limit, before asking (and again where the payment is counted: another tab).
  const limit = payer.limitOf(terms.vendorId);
  const spent = wallet.spentToday(terms.vendorId);
  if (spent + price > BigInt(limit.perDay)) throw paymentDeclined('spending_limit', 'over the limit', terms);
  if (price <= BigInt(limit.askAbove)) return pageWaits(request);
  const yes = await ask(
    payer.peer,
    pageOrigin,
    `${vendor.name} asks ${show(price)} for ${terms.description ?? terms.resource}.`,
    `At ${new URL(vendor.url).host}. You have ${show(coins)} in coins; ${show(spent)} spent there today.`,
    request.deadline,
  );
  return yes && pageWaits(request);
}

/** The vendor's response as the page gets it (the body transferred, not copied), with what was paid. */
async function answerForPage(res: Response & { netpay?: PaidInfo }, show: Payer['show']) {
  const body = await res.arrayBuffer();
  return {
    transfer: [body],
    result: {
      ok: true,
      status: res.status,
      statusText: res.statusText,
      headers: [...res.headers.entries()],
      body,
      netpay: res.netpay && {
        paid: res.netpay.paid.toString(),
        formatted: show(res.netpay.paid),
        vendorId: res.netpay.vendorId,
        receipt: res.netpay.receipt,
      },
    },
  };
}

/** The vendor as the broker has it registered (name, URL), once per vendor. */
function partyLookup(brokerUrl: string) {
  const broker = createClient(brokerApi, { url: brokerUrl, name: 'the broker' });
  const parties = new Map<string, Promise<{ id: string; name: string; url: string | null } | undefined>>();
  return (vendorId: string) => {
    let p = parties.get(vendorId);
    if (!p) {
      p = broker.party({ params: { id: vendorId } }).catch(() => undefined);
      parties.set(vendorId, p);
      // A failed lookup is not remembered (the broker may answer next time).
      void p.then((found) => found ?? parties.delete(vendorId));
    }
    return p;
  };
}
