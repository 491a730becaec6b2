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
 *
 * This is the frame's entry: it opens the wallet and takes the page's messages, one payment at a time;
 * `pay/` holds the request and answers (messages.ts), the paying (payer.ts) and the question (ask.ts).
 */
import { indexedDbStorage, openWallet, recoverPayments, type Wallet } from '@netpay/wallet';
import { CHANGES } from './limits.ts';
import { $, shown } from './pay/ask.ts';
import { FOR_THE_PAGE, PayRequestSchema, refusal } from './pay/messages.ts';
import { framePayer } from './pay/payer.ts';
import { site } from './site.ts';

const MAX_WAITING = 8;

async function main() {
  // In a shop's page (a frame), or a window a shop's page opened (window mode).
  const found: Window | null = parent !== window ? parent : (opener as Window | null);
  if (!found) {
    document.body.textContent =
      'This page is the NetPay wallet frame that shops embed; open the wallet instead.';
    return;
  }
  const peer: Window = found;
  const config = await site().config({});
  let wallet: Wallet;
  try {
    wallet = await openWallet({ storage: indexedDbStorage('netpay-wallet'), brokerUrl: config.broker });
  } catch {
    return sendToWindowMode(peer);
  }
  const changes = new BroadcastChannel(CHANGES);
  const pay = await framePayer(wallet, config, peer);

  // Payments a closed tab or a dropped connection left in flight: settled with their shops now.
  // (Only those older than any page waits: a younger one may be in flight in another tab.)
  void recoverPayments(wallet, { olderThanMs: 180_000 })
    .then((r) => r.resent > 0 && changes.postMessage('changed'))
    .catch(() => {});

  // One payment at a time: a second request waits (its question would hide the first one's).
  let queue: Promise<unknown> = Promise.resolve();
  let waiting = 0;
  addEventListener('message', (ev: MessageEvent) => {
    if (ev.source !== peer) return;
    if ((ev.data as { type?: unknown })?.type === 'shown') return shown();
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
        reply(refusal(e, () => wallet.chains().length === 0));
      } finally {
        waiting--;
        changes.postMessage('changed');
      }
    });
  });
  if (peer !== parent) $('status').textContent = 'Paying from your NetPay wallet…';
  peer.postMessage({ type: 'ready' }, '*'); // says nothing but "loaded"
}

/** This browser gives a frame on another site no storage at all: every request is sent to window mode. */
function sendToWindowMode(peer: Window) {
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
}

void main();
