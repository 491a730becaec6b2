/**
 * For a person's browser (it asked for HTML) a refusal is a page, not JSON: what it costs, why it was
 * refused, and — where the vendor takes server-side wallets — a link to pay from the NetPay account.
 * Fits a 390-pixel phone screen; works without JavaScript.
 */
import { type Currency, formatAmount, money } from '@netpay/protocol';
import { escapeHtml } from '@netpay/service';
import type { GateAnswer } from '../errors.ts';

interface PageTerms {
  price: string;
  description?: string;
  wallet?: { signIn: string };
}

const STYLE =
  'body{font-family:system-ui,sans-serif;max-width:26rem;margin:2rem auto;padding:0 1rem}a.pay{display:block;text-align:center;background:#14532d;color:#fff;padding:.8rem;border-radius:.4rem;text-decoration:none;margin-top:1rem}.why{color:#7f1d1d}';

/** The page for an answer that carries terms; undefined for answers better left as JSON. */
export function answerPage(cur: Currency, a: GateAnswer): string | undefined {
  const t = a.body.terms as PageTerms | undefined;
  if (!t) return undefined;
  const price = `${formatAmount(money(BigInt(t.price), cur))} ${cur.code}`;
  const title = escapeHtml(t.description ?? 'Pay to continue');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>${STYLE}</style></head><body>
<h1>${escapeHtml(t.description ?? 'This costs a little')}</h1>
<p>Price: <strong>${escapeHtml(price)}</strong>, paid with NetPay.</p>
${a.body.code === 'payment_required' ? '' : `<p class="why" role="alert">${escapeHtml(a.body.message)}</p>`}
${t.wallet ? `<a class="pay" href="${escapeHtml(t.wallet.signIn)}">Pay from my NetPay account</a>` : '<p>Pay with a NetPay wallet (netpay fetch, or a browser wallet).</p>'}
</body></html>`;
}
