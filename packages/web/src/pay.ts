/**
 * The wallet frame a shop's page embeds (through `netpay.js`): it holds the customer's browser wallet (the
 * same IndexedDB wallet as the wallet page, on the wallet's origin) and pays the shop's requests for it,
 * within the customer's limits for that shop. Above the "ask above" amount it shows itself and asks.
 *
 * It answers only its parent page, and pays only for URLs on that page's own origin: a shop can spend
 * from the wallet only what the customer's limits allow for it, and only at itself.
 */
import { currency, formatAmount, money } from '@netpay/protocol';
import {
  createPayFetch,
  indexedDbStorage,
  openWallet,
  type PaidInfo,
  PaymentDeclined,
  type Terms,
  type Wallet,
  WalletError,
} from '@netpay/wallet';
import { z } from 'zod';
import { CHANGES, limitFor } from './limits.ts';

const PayRequestSchema = z.strictObject({
  type: z.literal('pay'),
  id: z.number().int().nonnegative(),
  url: z.url({ protocol: /^https?$/ }),
  method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']),
  headers: z.array(z.tuple([z.string().max(256), z.string().max(8192)])).max(64),
  body: z.string().max(1_000_000).nullable(),
});

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** Shows the question in this frame (the page makes the frame visible) and waits for the answer. */
function ask(parentOrigin: string, what: string, left: string): Promise<boolean> {
  $('what').textContent = what;
  $('left').textContent = left;
  $('ask').hidden = false;
  parent.postMessage({ type: 'show' }, parentOrigin); // the page shows the frame and says 'shown'
  return new Promise((resolve) => {
    const done = (yes: boolean) => {
      $('ask').hidden = true;
      $('pay').onclick = $('cancel').onclick = document.onkeydown = null;
      parent.postMessage({ type: 'hide' }, parentOrigin);
      resolve(yes);
    };
    $('pay').onclick = () => done(true);
    $('cancel').onclick = () => done(false);
    document.onkeydown = (e) => {
      if (e.key === 'Escape') done(false);
    };
  });
}

async function pay(wallet: Wallet, request: z.infer<typeof PayRequestSchema>, parentOrigin: string) {
  const c = await wallet.currency();
  const cur = currency(c.code, c.exponent);
  const show = (m: bigint) => `${formatAmount(money(m, cur))} ${cur.code}`;
  await wallet.refresh(); // another tab (the wallet page, another shop) may have changed it
  const { coins } = await wallet.balance({ broker: false });
  if (coins === 0n)
    throw new WalletError(
      'no_coins',
      'Your NetPay wallet in this browser has no coins: buy some in the wallet, or pay from your NetPay account.',
    );
  const payFetch = createPayFetch(wallet, {
    policy: {
      ask: async (terms: Terms) => {
        const price = BigInt(terms.price);
        const limit = limitFor(terms.vendorId);
        const spent = wallet.spentToday(terms.vendorId);
        if (spent + price > BigInt(limit.perDay))
          throw new PaymentDeclined(
            'spending_limit',
            `Spending limit reached: ${show(price)} more would take today's spending at ${terms.vendorId} past your limit of ${show(BigInt(limit.perDay))} (${show(spent)} spent). Change it in your NetPay wallet.`,
            402,
            terms,
          );
        if (price <= BigInt(limit.askAbove)) return true;
        return ask(
          parentOrigin,
          `${terms.vendorId} asks ${show(price)} for ${terms.description ?? terms.resource}.`,
          `You have ${show(coins)} in coins; ${show(spent)} spent at ${terms.vendorId} today.`,
        );
      },
    },
  });
  const res: Response & { netpay?: PaidInfo } = await payFetch(request.url, {
    method: request.method,
    headers: request.headers,
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
}

async function main() {
  if (parent === window) {
    document.body.textContent =
      'This page is the NetPay wallet frame that shops embed; open the wallet instead.';
    return;
  }
  const config = (await fetch('./config.json').then((r) => r.json())) as { broker: string };
  const wallet = await openWallet({ storage: indexedDbStorage('netpay-wallet'), brokerUrl: config.broker });
  const changes = new BroadcastChannel(CHANGES);
  // One payment at a time: a second request waits (its question would hide the first one's).
  let queue: Promise<unknown> = Promise.resolve();
  addEventListener('message', (ev: MessageEvent) => {
    if (ev.source !== parent) return;
    if ((ev.data as { type?: unknown })?.type === 'shown') {
      if (!$('ask').hidden) $('pay').focus();
      return;
    }
    const parsed = PayRequestSchema.safeParse(ev.data);
    const id = (ev.data as { id?: unknown })?.id;
    const reply = (result: object, transfer: Transferable[] = []) =>
      parent.postMessage({ type: 'result', id, ...result }, ev.origin, transfer);
    if (!parsed.success) {
      reply({ ok: false, code: 'bad_request', message: `the wallet frame got a malformed request` });
      return;
    }
    if (new URL(parsed.data.url).origin !== ev.origin) {
      reply({ ok: false, code: 'wrong_origin', message: 'a page may only pay for its own site' });
      return;
    }
    queue = queue.then(async () => {
      try {
        const { result, transfer } = await pay(wallet, parsed.data, ev.origin);
        reply(result, transfer);
      } catch (e) {
        const code = e instanceof WalletError ? e.code : 'wallet_failed';
        reply({ ok: false, code, message: e instanceof Error ? e.message : String(e) });
      } finally {
        changes.postMessage('changed');
      }
    });
  });
  parent.postMessage({ type: 'ready' }, '*'); // says nothing but "loaded"
}
void main();
