/** The spend policy: whether payFetch may pay what a vendor's terms ask, checked before anything is paid. */
import { formatAmount, money, type Terms } from '@netpay/protocol';
import type { Wallet } from '../wallet.ts';
import { type PayFetchOptions, paymentDeclined } from './options.ts';

/** The policy's daily limit for one vendor, if any. */
export function vendorLimit(options: PayFetchOptions, vendorId: string): bigint | undefined {
  const l = options.policy?.maxPerVendorPerDay;
  return typeof l === 'function' ? l(vendorId) : l;
}

/**
 * Refuses (a `paymentDeclined` error) terms in another currency, from a broker the wallet does not use
 * (unless paying from the server-side wallet), over a limit, or declined when asked.
 */
export async function checkTerms(wallet: Wallet, options: PayFetchOptions, terms: Terms, url: string) {
  const cur = await wallet.currency();
  if (terms.currency !== cur.code || terms.exponent !== cur.exponent)
    throw paymentDeclined(
      'wrong_currency',
      `${url} asks for ${terms.currency}; this wallet holds ${cur.code}`,
    );
  const brokerOk = terms.brokers.some((b) => b.url.replace(/\/+$/, '') === wallet.brokerUrl);
  if (!brokerOk && !options.serverWallet)
    throw paymentDeclined(
      'broker_not_accepted',
      `${terms.vendorId} does not take coins from ${wallet.brokerUrl}`,
    );
  const price = BigInt(terms.price);
  const p = options.policy ?? {};
  const f = (m: bigint) => formatAmount(money(m, cur));
  const refuse = (code: string, what: string, limit: bigint) =>
    paymentDeclined(code, `${url} costs ${f(price)} ${cur.code}: over ${what} of ${f(limit)}`, terms);
  if (p.maxPerRequest !== undefined && price > p.maxPerRequest)
    throw refuse('over_max_price', 'the most per request', p.maxPerRequest);
  const perVendor = vendorLimit(options, terms.vendorId);
  if (perVendor !== undefined && wallet.spentToday(terms.vendorId) + price > perVendor)
    throw refuse('over_vendor_daily_limit', `today's limit for ${terms.vendorId}`, perVendor);
  if (p.maxPerDay !== undefined && wallet.spentToday('*') + price > p.maxPerDay)
    throw refuse('over_daily_limit', "today's limit", p.maxPerDay);
  if (p.ask && !(await p.ask(terms, url)))
    throw paymentDeclined('declined', `the payment of ${price} to ${terms.vendorId} was declined`, terms);
}
