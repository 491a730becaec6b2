/**
 * NetPay for a shop's own pages: one script tag, no browser extension.
 *
 *   <script src="https://wallet.example/netpay.js"></script>
 *   const res = await NetPay.fetch('/send', { method: 'POST', headers: {...}, body: JSON.stringify(card) });
 *   res.netpay  // { paid, formatted, vendorId, receipt } when something was paid
 *
 * NetPay.fetch asks the shop first (with the page's cookies, so a customer signed in to a server-side wallet
 * pays from it); on a NetPay 402 it hands the request to the customer's browser wallet, a frame from the
 * wallet's origin, which pays within the customer's limits for this shop (asking above them) and makes the
 * request with the payment. A refusal throws an Error with `code` (no_coins, spending_limit, declined,
 * wallet_unreachable, …), and `signIn`: the shop's link to pay from the NetPay account instead.
 *
 * Window mode, `NetPay.fetch(url, init, { window: true })` from a click: the wallet pays from a window of
 * its own instead of the frame. Where the shop and the wallet are different sites, browsers keep a frame's
 * storage apart from (or deny it) the wallet page's; a refusal with `tryWindow: true` says so.
 */
(() => {
  if (window.NetPay) return;
  const script = document.currentScript;
  const walletUrl = new URL('.', script.src).href;
  const walletOrigin = new URL(script.src).origin;
  const pending = new Map();
  let frame;
  let ready;
  let seq = 0;
  let focusBack = null;

  const fail = (code, message, extra) =>
    Object.assign(new Error(message), { name: 'NetPayError', code }, extra);

  /** The wallet windows this page opened (window mode), answered like the frame. */
  const windows = new Set();

  addEventListener('message', (ev) => {
    if (ev.origin !== walletOrigin) return;
    const m = ev.data || {};
    if (windows.has(ev.source)) {
      if (m.type === 'result' && pending.has(m.id)) pending.get(m.id)(m);
      return;
    }
    if (!frame || ev.source !== frame.contentWindow) return;
    if (m.type === 'show') {
      focusBack = document.activeElement;
      if (Number.isFinite(m.height)) frame.style.height = `${Math.min(Math.max(m.height, 120), 600)}px`;
      frame.style.display = 'block';
      frame.focus();
      // Now that it can take focus, the frame puts it on its Pay button (keyboard users answer at once).
      frame.contentWindow.postMessage({ type: 'shown' }, walletOrigin);
    } else if (m.type === 'hide') {
      frame.style.display = 'none';
      focusBack?.focus?.();
    } else if (m.type === 'result' && pending.has(m.id)) {
      pending.get(m.id)(m);
    }
  });

  function walletFrame() {
    ready ??= new Promise((resolve, reject) => {
      frame = document.createElement('iframe');
      frame.src = `${walletUrl}pay.html`;
      frame.title = 'NetPay wallet';
      frame.setAttribute(
        'style',
        'position:fixed;right:1rem;bottom:1rem;width:min(24rem,calc(100vw - 2rem));height:13rem;border:0;border-radius:.75rem;box-shadow:0 10px 40px rgba(0,0,0,.35);z-index:2147483647;display:none;background:#fff',
      );
      const onReady = (ev) => {
        if (ev.source !== frame.contentWindow || ev.data?.type !== 'ready') return;
        removeEventListener('message', onReady);
        clearTimeout(timer);
        // Should the frame load again (navigated, crashed), what it was asked is lost: say so.
        frame.addEventListener('load', () => {
          for (const answer of [...pending.values()])
            answer({ ok: false, code: 'wallet_unreachable', message: 'The NetPay wallet was reloaded.' });
          frame.style.display = 'none';
          frame.remove();
          ready = undefined;
        });
        resolve();
      };
      const timer = setTimeout(() => {
        removeEventListener('message', onReady);
        frame.remove();
        ready = undefined;
        reject(fail('wallet_unreachable', `The NetPay wallet at ${walletOrigin} does not answer.`));
      }, 15_000);
      addEventListener('message', onReady);
      document.body.append(frame);
    });
    return ready;
  }

  /**
   * Window mode: the wallet in a window of its own (its storage is the wallet page's, whatever site this
   * page is on). Opened at once, while the click that asked for it still counts as the customer's.
   */
  function walletWindow() {
    const win = open(`${walletUrl}pay.html`, 'netpay-pay', 'popup,width=440,height=380');
    if (!win)
      throw fail('window_blocked', 'The browser blocked the NetPay window: allow pop-ups for this site.');
    windows.add(win);
    const ready = new Promise((resolve, reject) => {
      const onReady = (ev) => {
        if (ev.source !== win || ev.data?.type !== 'ready') return;
        removeEventListener('message', onReady);
        clearTimeout(timer);
        resolve(win);
      };
      const timer = setTimeout(() => {
        removeEventListener('message', onReady);
        reject(fail('wallet_unreachable', `The NetPay wallet at ${walletOrigin} does not answer.`));
      }, 15_000);
      addEventListener('message', onReady);
    });
    const close = () => {
      windows.delete(win);
      win.close();
    };
    return { ready, close };
  }

  async function netpayFetch(input, init = {}, options = {}) {
    const url = new URL(String(input), location.href).href;
    const popup = options.window ? walletWindow() : undefined;
    try {
      return await pay(url, init, popup);
    } finally {
      popup?.close();
    }
  }

  async function pay(url, init, popup) {
    const first = await fetch(url, { credentials: 'same-origin', ...init });
    if (first.status !== 402) return first;
    const answer = await first
      .clone()
      .json()
      .catch(() => ({}));
    const terms = answer?.terms;
    if (!terms) return first; // a 402 that is not NetPay's: the page handles it
    const signIn = terms.wallet?.signIn ? new URL(terms.wallet.signIn, url).href : undefined;
    if (init.body != null && typeof init.body !== 'string')
      throw fail('unsupported_body', 'NetPay.fetch sends text bodies only (JSON.stringify the body)');
    if (!popup) await walletFrame();
    const target = popup ? await popup.ready : frame.contentWindow;
    const id = ++seq;
    const result = await new Promise((resolve) => {
      // The customer may take a while to answer a question (the frame gives up after two minutes).
      const timer = setTimeout(
        () =>
          pending.get(id)?.({
            ok: false,
            code: 'wallet_unreachable',
            message: 'The NetPay wallet did not answer.',
          }),
        150_000,
      );
      // A wallet window the customer closes is a no.
      const watch = popup
        ? setInterval(() => {
            if (target.closed)
              pending.get(id)?.({
                ok: false,
                code: 'declined',
                message:
                  'The NetPay window was closed before it answered (the wallet history shows what it paid).',
              });
          }, 500)
        : undefined;
      pending.set(id, (answer) => {
        clearTimeout(timer);
        clearInterval(watch);
        pending.delete(id);
        resolve(answer);
      });
      target.postMessage(
        {
          type: 'pay',
          id,
          url,
          method: (init.method || 'GET').toUpperCase(),
          headers: [...new Headers(init.headers).entries()],
          body: init.body ?? null,
          // The frame asks and pays nothing after this (a little before this page gives up).
          deadline: Date.now() + 140_000,
        },
        walletOrigin,
      );
    });
    if (!result.ok)
      throw fail(result.code, result.message, {
        terms,
        signIn,
        walletUrl: result.code === 'no_coins' || result.code === 'wallet_elsewhere' ? walletUrl : undefined,
        // The frame's wallet is empty: on another site than the wallet, the browser may keep the frame's
        // storage apart from the wallet page's. NetPay.fetch(url, init, { window: true }) pays from a
        // window of the wallet's own (call it from a click).
        tryWindow: !popup && result.walletEmpty === true,
      });
    const empty = result.status === 204 || result.status === 304 || result.status < 200;
    const res = new Response(empty ? null : result.body, {
      status: result.status,
      statusText: result.statusText,
      headers: result.headers,
    });
    Object.defineProperty(res, 'netpay', { value: result.netpay });
    return res;
  }

  window.NetPay = { fetch: netpayFetch, walletUrl };
})();
