/**
 * How the wallet frame pays a page's request: only a vendor the broker has registered at the page's own
 * origin, within the customer's limits for that shop, asking above the "ask" amount, and nothing once the
 * page has stopped waiting. The page gets the response (and what was paid), never the wallet's state.
 */
import { brokerApi, createClient } from '@netpay/api';
import { currency, formatMoney, money } from '@netpay/protocol';
import { createPayFetch, type PaidInfo, paymentDeclined, type Terms, type Wallet } from '@netpay/wallet';
import { limitFor } from '../limits.ts';
import { ask } from './ask.ts';
import type { PayRequest } from './messages.ts';

export interface FrameConfig {
  readonly broker: string;
  readonly shops: readonly { id: string }[];
}

export async function framePayer(wallet: Wallet, config: FrameConfig, peer: Window) {
  const c = await wallet.currency();
  const cur = currency(c.code, c.exponent);
  const show = (m: bigint) => formatMoney(money(m, cur));
  const limitOf = (vendorId: string) =>
    limitFor(
      vendorId,
      config.shops.some((s) => s.id === vendorId),
    );
  const party = partyLookup(config.broker);

  return async function pay(request: PayRequest, pageOrigin: string) {
    await wallet.refresh(); // another tab (the wallet page, another shop) may have changed it
    const verified = new Set<string>();
    // The page has stopped waiting: pay nothing it will not see.
    const pageWaits = () => {
      if (Date.now() >= request.deadline) throw paymentDeclined('expired', 'the page stopped waiting');
      return true;
    };
    pageWaits();
    const payFetch = createPayFetch(wallet, {
      policy: {
        // Only for a vendor found at this page's origin (a page learns nothing of other shops' limits).
        maxPerVendorPerDay: (vendorId) =>
          verified.has(vendorId) ? BigInt(limitOf(vendorId).perDay) : undefined,
        ask: async (terms: Terms) => {
          const vendor = await party(terms.vendorId);
          if (!vendor?.url || new URL(vendor.url).origin !== pageOrigin)
            throw paymentDeclined('vendor_mismatch', 'not the registered origin', terms);
          const price = BigInt(terms.price);
          const { coins } = await wallet.balance({ broker: false });
          if (coins < price) throw paymentDeclined('no_coins', 'not enough coins', terms);
          verified.add(terms.vendorId);
          // The day's limit, before asking (and again where the payment is counted: another tab).
          const limit = limitOf(terms.vendorId);
          const spent = wallet.spentToday(terms.vendorId);
          if (spent + price > BigInt(limit.perDay))
            throw paymentDeclined('spending_limit', 'over the limit', terms);
          if (price <= BigInt(limit.askAbove)) return pageWaits();
          const yes = await ask(
            peer,
            pageOrigin,
            `${vendor.name} asks ${show(price)} for ${terms.description ?? terms.resource}.`,
            `At ${new URL(vendor.url).host}. You have ${show(coins)} in coins; ${show(spent)} spent there today.`,
            request.deadline,
          );
          return yes && pageWaits();
        },
      },
    });
    const res: Response & { netpay?: PaidInfo } = await payFetch(request.url, {
      method: request.method,
      headers: request.headers,
      redirect: 'error',
      signal: AbortSignal.timeout(60_000),
      ...(request.body === null ? {} : { body: request.body }),
    });
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
