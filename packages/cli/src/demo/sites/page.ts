/**
 * What the demo's two vendor sites share: their options, how each becomes a vendor server over
 * `@netpay/vendor`'s `startVendorServer`, the page frame and style, and the in-page script that pays with
 * the customer's browser wallet (`<wallet>/netpay.js`, `NetPay.fetch`) and shows its errors.
 */
import { currency, formatMoney, money } from '@netpay/protocol';
import { escapeHtml } from '@netpay/service';
import { type PriceList, type StartVendorOptions, startVendorServer } from '@netpay/vendor/server';

const USD = currency('USD', 4);
/** An amount of the demo's currency (USD with 4 decimals), as the pages show it. */
export const usd = (minor: bigint) => formatMoney(money(minor, USD));

export interface SiteOptions {
  readonly port: number;
  /** The site's key and database live here. */
  readonly dataDir: string;
  /** Where its files are written (on every start: they are part of the demo, not its data). */
  readonly filesDir: string;
  readonly brokerUrl: string;
  /** The web wallet's URL, whose script the pages embed (known once the wallet listens). */
  readonly walletUrl: () => string;
  readonly redeemEveryMs?: number;
  readonly clock?: () => number;
  /** The broker operator's invitation, for the site's first registration (docs/broker.md §6.4). */
  readonly invitation?: string;
}

/** A site's own routes, added to its vendor server (the Fastify app and the vendor's database). */
export type SiteRoutes = NonNullable<StartVendorOptions['routes']>;

/** Starts a site: a vendor server selling `filesDir` at `prices`, with the site's own routes. */
export function startSite(o: SiteOptions, prices: PriceList, routes: SiteRoutes) {
  return startVendorServer({
    port: o.port,
    folder: o.filesDir,
    prices,
    brokerUrl: o.brokerUrl,
    dataDir: o.dataDir,
    redeemEveryMs: o.redeemEveryMs ?? 30_000,
    ...(o.clock ? { clock: o.clock } : {}),
    ...(o.invitation ? { invitation: o.invitation } : {}),
    routes,
  });
}

const STYLE = `body{font-family:system-ui,sans-serif;max-width:44rem;margin:1.5rem auto;padding:0 1rem;line-height:1.45;color:#111}
a{color:#1d4ed8}label{display:block;margin-top:.4rem}input,textarea,button{font:inherit}input,textarea{width:100%;box-sizing:border-box;padding:.35rem}
button{margin-top:.5rem;padding:.4rem .9rem;border:0;border-radius:.4rem;background:#1d4ed8;color:#fff;cursor:pointer}button[disabled]{opacity:.6}
button:focus-visible,a:focus-visible,input:focus-visible,textarea:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}
.card{border:1px solid #ddd;border-radius:.6rem;padding:1rem;margin:1rem 0}.card svg{max-width:100%;height:auto}
.alert{background:#fee2e2;color:#7f1d1d;padding:.5rem;border-radius:.4rem}.ok{background:#dcfce7;color:#14532d;padding:.5rem;border-radius:.4rem}`;

/** A whole page; with `walletUrl`, it embeds the wallet's script. */
export const page = (title: string, body: string, walletUrl?: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title><style>${STYLE}</style>${walletUrl ? `<script src="${escapeHtml(walletUrl)}/netpay.js"></script>` : ''}</head><body>${body}</body></html>`;

/**
 * In the page: shows an error from NetPay.fetch (or the shop) visibly, with the ways out it offers: the
 * wallet to buy coins, or paying from the NetPay account (server-side wallet).
 */
export const SHOW_ERROR = `function showError(out, e, again) {
  out.className = 'result alert';
  out.textContent = e && e.message ? e.message : String(e);
  if (e && e.tryWindow && again) {
    // The wallet frame sees no wallet (on another site than the wallet, browsers may keep its storage
    // apart): a window of the wallet's own can pay.
    out.append(' ');
    var b = document.createElement('button');
    b.type = 'button'; b.textContent = 'Pay in a NetPay wallet window';
    b.onclick = function () { again({ window: true }); };
    out.append(b);
  }
  if (e && e.signIn) {
    out.append(' ');
    var a = document.createElement('a');
    var back = new URL(e.signIn);
    back.searchParams.set('return', location.pathname); // back to this page, not to the API
    a.href = back.href; a.textContent = 'Pay from my NetPay account instead';
    out.append(a);
  }
  if (e && e.walletUrl) {
    out.append(' ');
    var w = document.createElement('a');
    w.href = e.walletUrl; w.target = '_blank'; w.textContent = 'Open my NetPay wallet';
    out.append(w);
  }
}
function netpayFetch(url, init, options) {
  if (!window.NetPay) return Promise.reject(Object.assign(new Error('The NetPay wallet cannot be reached from this page: try again in a moment.'), { code: 'wallet_unreachable' }));
  return window.NetPay.fetch(url, init, options);
}`;
