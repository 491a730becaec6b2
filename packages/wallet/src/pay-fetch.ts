/**
 * `createPayFetch`: a drop-in `fetch` that pays NetPay vendors (docs/protocol.md §9), and `recoverPayments`
 * for payments a crash left in flight. This module is the request loop; its parts are in `pay-fetch/`:
 * options.ts (what it takes and gives), policy.ts (may it pay), coins.ts and server-wallet.ts (the two ways
 * of paying), answer.ts (reading a vendor's answers) and recover.ts.
 */
import type { Terms } from '@netpay/protocol';
import { fetchVendor, termsOf } from './pay-fetch/answer.ts';
import { coinPayer } from './pay-fetch/coins.ts';
import type { PaidResponse, PayFetchOptions } from './pay-fetch/options.ts';
import { checkTerms } from './pay-fetch/policy.ts';
import { serverWalletPayer } from './pay-fetch/server-wallet.ts';
import type { Wallet } from './wallet.ts';

export { type Terms, TermsSchema } from '@netpay/protocol';
export {
  type PaidInfo,
  type PaidResponse,
  type PayFetchOptions,
  paymentDeclined,
  type SpendPolicy,
} from './pay-fetch/options.ts';
export { recoverPayments } from './pay-fetch/recover.ts';

/**
 * A drop-in `fetch` that pays NetPay vendors: on a 402 with NetPay terms it checks the price against the
 * spend policy, pays exactly the price from the wallet (writing the payment down first), and retries the
 * request once with the payment. It remembers each resource's terms, so the next call pays up front and
 * takes one round trip. The response carries `netpay: PaidInfo` when something was paid.
 */
export function createPayFetch(wallet: Wallet, options: PayFetchOptions = {}) {
  const base = options.fetch ?? globalThis.fetch;
  const known = new Map<string, Terms>();
  const payer = options.serverWallet
    ? serverWalletPayer(wallet, base, options)
    : coinPayer(wallet, base, options);
  const pay = async (url: string, init: RequestInit | undefined, terms: Terms) => {
    await checkTerms(wallet, options, terms, url);
    return payer(url, init, terms);
  };

  return async function payFetch(input: string | URL, init?: RequestInit): Promise<PaidResponse> {
    // Relative URLs resolve against the page, as fetch's do.
    const url = new URL(String(input), globalThis.location?.href).toString();
    const remembered = known.get(url);
    let terms: Terms | undefined = remembered;
    if (!terms) {
      // Nothing is paid yet: a shop that does not answer is said in the wallet's terms.
      const first = await fetchVendor(base, url, init);
      if (first.status !== 402) return first;
      terms = await termsOf(first);
      if (!terms) return first; // a 402 that is not NetPay's
      known.set(url, terms);
    }
    const res = await pay(url, init, terms);
    if (!remembered || res.status !== 402) return res;
    // The price changed since: learn the new terms and go round once more.
    known.delete(url);
    const fresh = await termsOf(res);
    if (!fresh) return res;
    known.set(url, fresh);
    return pay(url, init, fresh);
  };
}
