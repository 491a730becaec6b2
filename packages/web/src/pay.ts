/**
 * The wallet frame a shop's page embeds (through `netpay.js`): it holds the customer's browser wallet (the
 * same IndexedDB wallet as the wallet page, on the wallet's origin) and pays the shop's requests for it,
 * within the customer's limits for that shop. Above the "ask" amount it shows itself and asks.
 *
 * What a page can and cannot do with it:
 * - It pays only for URLs on the embedding page's own origin (fetched without following redirects), and
 *   only a vendor the broker has registered at that origin: a page cannot borrow another shop's limits.
 * - Shops the wallet does not list ask before every payment until the customer sets their limits.
 * - The page learns only whether it was paid, with a code and a fixed message: never the balance, the
 *   limits or what was spent elsewhere.
 * - The Pay button answers only after the question has been on screen for a moment (and, where the browser
 *   can tell, while the frame is really visible, not covered or transparent); the focus starts on
 *   "Don't pay", so a keystroke meant for the page does not pay.
 */
import { brokerApi, createClient } from '@netpay/api';
import { currency, formatMoney, money, NetPayError } from '@netpay/protocol';
import {
  createPayFetch,
  indexedDbStorage,
  KeptRequestSchema,
  openWallet,
  type PaidInfo,
  paymentDeclined,
  recoverPayments,
  type Terms,
  type Wallet,
} from '@netpay/wallet';
import { z } from 'zod';
import { CHANGES, limitFor } from './limits.ts';

const PayRequestSchema = z.strictObject({
  type: z.literal('pay'),
  id: z.number().int().nonnegative(),
  url: z.url({ protocol: /^https?$/ }),
  method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']),
  // A paid request is kept in the wallet until settled (to send it again after a lost answer): what the
  // wallet keeps bounds what the frame takes.
  headers: KeptRequestSchema.shape.headers,
  body: KeptRequestSchema.shape.body.unwrap().nullable(),
  /** The page's own time limit (its clock, this browser's): nothing is asked or paid after it. */
  deadline: z.number().int().positive(),
});
/** What the embedding page is told, whatever the wallet knows: a code and a fixed message. */
const FOR_THE_PAGE: Record<string, string> = {
  no_coins: 'Your NetPay wallet cannot pay this: buy coins in it, or pay from your NetPay account.',
  spending_limit: 'Spending limit reached for this shop today: you can change it in your NetPay wallet.',
  declined: 'You did not pay.',
  vendor_unreachable: 'The shop could not be reached; a payment already sent is settled with it later.',
  vendor_mismatch: 'This page is not where the shop it names is registered: the wallet did not pay.',
  wrong_origin: 'A page can only pay for its own site.',
  bad_request: 'The wallet frame got a malformed request.',
  busy: 'The wallet has too many payments waiting: try again in a moment.',
  expired: 'The page stopped waiting for the wallet: nothing was paid.',
  wallet_elsewhere: 'Your NetPay wallet cannot be opened inside this page: pay in a wallet window.',
  request_not_kept: 'This request cannot be paid from the wallet (its body is too big to keep).',
  wrong_currency: 'This shop asks for a currency your wallet does not hold.',
  broker_not_accepted: "This shop does not take your broker's coins.",
};
/** Wallet codes the page sees as one of the above. */
const AS = { insufficient_coins: 'no_coins', over_vendor_daily_limit: 'spending_limit' } as const;

const ASK_TIMEOUT_MS = 120_000;
const ARM_MS = 700;
const MAX_WAITING = 8;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
/** Arms Pay when the page says the frame is shown (browsers without IntersectionObserver v2). */
let armOnShown: (() => void) | undefined;

/**
 * Shows the question (the page makes the frame visible and says 'shown') and waits for the answer: Pay,
 * Don't pay, Escape, or nothing for two minutes (no).
 */
function ask(
  peer: Window,
  parentOrigin: string,
  what: string,
  left: string,
  deadline: number,
): Promise<boolean> {
  const pay = $<HTMLButtonElement>('pay');
  const cancel = $<HTMLButtonElement>('cancel');
  $('what').textContent = what;
  $('left').textContent = left;
  $('ask').hidden = false;
  pay.disabled = true;
  peer.postMessage({ type: 'show', height: document.documentElement.scrollHeight }, parentOrigin);
  return new Promise((resolve) => {
    let armTimer: ReturnType<typeof setTimeout> | undefined;
    const arm = (visible: boolean) => {
      clearTimeout(armTimer);
      pay.disabled = true;
      if (visible) armTimer = setTimeout(() => (pay.disabled = false), ARM_MS);
    };
    // Where the browser computes real visibility (IntersectionObserver v2), Pay is armed only while the
    // frame is visible; elsewhere after a moment on screen.
    const v2 = 'isVisible' in IntersectionObserverEntry.prototype;
    const observer = v2
      ? new IntersectionObserver(
          (entries) => {
            for (const e of entries) arm((e as IntersectionObserverEntry & { isVisible: boolean }).isVisible);
          },
          { trackVisibility: true, delay: 100 } as IntersectionObserverInit,
        )
      : undefined;
    observer?.observe($('ask'));
    // Without v2, a frame is armed once the page says it shows it; a window of its own at once.
    if (!v2 && peer === parent) armOnShown = () => arm(true);
    else if (!v2) arm(true);
    if (peer !== parent) cancel.focus();
    const timeout = setTimeout(() => done(false), Math.min(ASK_TIMEOUT_MS, deadline - Date.now()));
    function done(yes: boolean) {
      armOnShown = undefined;
      clearTimeout(timeout);
      clearTimeout(armTimer);
      observer?.disconnect();
      $('ask').hidden = true;
      pay.onclick = cancel.onclick = document.onkeydown = null;
      peer.postMessage({ type: 'hide' }, parentOrigin);
      resolve(yes);
    }
    pay.onclick = () => {
      if (!pay.disabled) done(true);
    };
    cancel.onclick = () => done(false);
    document.onkeydown = (e) => {
      if (e.key === 'Escape') done(false);
      // Tab stays within the question.
      if (e.key === 'Tab') {
        const order = [pay, cancel].filter((b) => !b.disabled);
        const at = order.indexOf(document.activeElement as HTMLButtonElement);
        e.preventDefault();
        order[(at + (e.shiftKey ? order.length - 1 : 1)) % order.length]?.focus();
      }
    };
  });
}

async function main() {
  // In a shop's page (a frame), or a window a shop's page opened (window mode).
  const found: Window | null = parent !== window ? parent : (opener as Window | null);
  if (!found) {
    document.body.textContent =
      'This page is the NetPay wallet frame that shops embed; open the wallet instead.';
    return;
  }
  const peer: Window = found;
  const config = (await fetch('./config.json').then((r) => r.json())) as {
    broker: string;
    shops: { id: string }[];
  };
  let opened: Wallet;
  try {
    opened = await openWallet({ storage: indexedDbStorage('netpay-wallet'), brokerUrl: config.broker });
  } catch {
    // This browser gives a frame on another site no storage at all: every request is sent to window mode.
    addEventListener('message', (ev: MessageEvent) => {
      if (ev.source !== peer || (ev.data as { type?: unknown })?.type !== 'pay') return;
      peer.postMessage(
        {
          type: 'result',
          id: (ev.data as { id?: unknown }).id,
          ok: false,
          code: 'wallet_elsewhere',
          message: FOR_THE_PAGE.wallet_elsewhere,
          walletEmpty: true,
        },
        ev.origin,
      );
    });
    peer.postMessage({ type: 'ready' }, '*');
    return;
  }
  const wallet = opened;
  const changes = new BroadcastChannel(CHANGES);
  const c = await wallet.currency();
  const cur = currency(c.code, c.exponent);
  const show = (m: bigint) => formatMoney(money(m, cur));

  // Payments a closed tab or a dropped connection left in flight: settled with their shops now.
  // (Only those older than any page waits: a younger one may be in flight in another tab.)
  void recoverPayments(wallet, { olderThanMs: 180_000 })
    .then((r) => r.resent > 0 && changes.postMessage('changed'))
    .catch(() => {});

  const limitOf = (vendorId: string) =>
    limitFor(
      vendorId,
      config.shops.some((s) => s.id === vendorId),
    );

  /** The vendor as the broker has it registered (name, URL), once per vendor. */
  const broker = createClient(brokerApi, { url: config.broker, name: 'the broker' });
  const parties = new Map<string, Promise<{ id: string; name: string; url: string | null } | undefined>>();
  const party = (vendorId: string) => {
    let p = parties.get(vendorId);
    if (!p) {
      p = broker.party({ params: { id: vendorId } }).catch(() => undefined);
      parties.set(vendorId, p);
      // A failed lookup is not remembered (the broker may answer next time).
      void p.then((found) => found ?? parties.delete(vendorId));
    }
    return p;
  };

  async function pay(request: z.infer<typeof PayRequestSchema>, pageOrigin: string) {
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
  }

  // One payment at a time: a second request waits (its question would hide the first one's).
  let queue: Promise<unknown> = Promise.resolve();
  let waiting = 0;
  addEventListener('message', (ev: MessageEvent) => {
    if (ev.source !== peer) return;
    if ((ev.data as { type?: unknown })?.type === 'shown') {
      if (!$('ask').hidden) {
        $('cancel').focus();
        armOnShown?.();
      }
      return;
    }
    const id = (ev.data as { id?: unknown })?.id;
    const reply = (result: object, transfer: Transferable[] = []) =>
      peer.postMessage({ type: 'result', id, ...result }, ev.origin, transfer);
    const refuse = (code: string) => reply({ ok: false, code, message: FOR_THE_PAGE[code] });
    const parsed = PayRequestSchema.safeParse(ev.data);
    if (!parsed.success) return refuse('bad_request');
    if (new URL(parsed.data.url).origin !== ev.origin) return refuse('wrong_origin');
    if (waiting >= MAX_WAITING) return refuse('busy');
    waiting++;
    queue = queue.then(async () => {
      try {
        const { result, transfer } = await pay(parsed.data, ev.origin);
        reply(result, transfer);
      } catch (e) {
        const raw = e instanceof NetPayError ? e.code : 'wallet_failed';
        const code: string = AS[raw as keyof typeof AS] ?? raw;
        reply({
          ok: false,
          code,
          message: FOR_THE_PAGE[code] ?? `Your NetPay wallet could not pay this (${code}).`,
          // A wallet with no chains at all here: the browser may keep this frame's storage apart from the
          // wallet page's (another site); window mode reaches the wallet's own.
          ...(code === 'no_coins' ? { walletEmpty: wallet.chains().length === 0 } : {}),
        });
      } finally {
        waiting--;
        changes.postMessage('changed');
      }
    });
  });
  if (peer !== parent) $('status').textContent = 'Paying from your NetPay wallet…';
  peer.postMessage({ type: 'ready' }, '*'); // says nothing but "loaded"
}
void main();
