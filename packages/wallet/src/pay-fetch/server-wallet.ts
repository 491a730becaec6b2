/**
 * Paying a request from the customer's server-side wallet at the broker (docs/broker.md §16a): the first
 * time at a vendor, the wallet signs in there through the broker (a redirect flow done by hand) and keeps
 * the vendor's grant cookie; each request then carries the cookie and the vendor charges the grant.
 */
import { fromBase64url, NetPayError, type Terms, walletCookieName } from '@netpay/protocol';
import type { Wallet } from '../wallet.ts';
import { bodyOf, withHeader } from './answer.ts';
import { type Payer, type PayFetchOptions, paymentDeclined } from './options.ts';

export function serverWalletPayer(wallet: Wallet, base: typeof fetch, options: PayFetchOptions): Payer {
  const signIn = (origin: string, terms: Terms) => serverGrant(wallet, base, options, origin, terms);
  return async (url, init, terms) => {
    const origin = new URL(url).origin;
    let cookie = await signIn(origin, terms);
    let res = await base(url, withHeader(init, 'cookie', cookie));
    if (res.status === 402 && (await bodyOf(res)).code === 'payment_required') {
      // The grant is gone (withdrawn): sign in once more.
      await wallet.setServerGrant(origin, null);
      cookie = await signIn(origin, terms);
      res = await base(url, withHeader(init, 'cookie', cookie));
    }
    const receipt = res.headers.get('netpay-wallet-receipt');
    if (!res.ok || !receipt) return res;
    const decoded = decodeWalletReceipt(receipt);
    await wallet.recordServerWalletPayment({
      vendorId: terms.vendorId,
      resource: `${(init?.method ?? 'GET').toUpperCase()} ${new URL(url).pathname}`,
      amount: BigInt(terms.price),
      receipt: decoded,
    });
    await wallet.addSpending(terms.vendorId, BigInt(terms.price));
    return Object.assign(res, {
      netpay: { paid: BigInt(terms.price), vendorId: terms.vendorId, receipt: decoded, serverWallet: true },
    });
  };
}

/** Signs in at the vendor through the broker (a redirect flow done by hand) and keeps the cookie. */
async function serverGrant(
  wallet: Wallet,
  base: typeof fetch,
  options: PayFetchOptions,
  origin: string,
  terms: Terms,
): Promise<string> {
  const existing = wallet.serverGrant(origin);
  if (existing) return existing;
  if (!terms.wallet)
    throw paymentDeclined('no_server_wallet', `${terms.vendorId} does not take server-side wallets`);
  const token = wallet.sessionToken;
  if (!token) throw new NetPayError('not_signed_in', 'sign in first (netpay wallet login)');
  const toBroker = await base(terms.wallet.signIn, { redirect: 'manual' });
  const page = new URL(toBroker.headers.get('location') ?? '', terms.wallet.signIn);
  // The vendor ties the callback to this client with a state cookie: send it back there.
  const stateCookie = (toBroker.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  const authorize = await wallet.api.authorize({
    token,
    body: {
      vendor: page.searchParams.get('vendor') ?? terms.vendorId,
      redirect_uri: page.searchParams.get('redirect_uri') ?? '',
      state: page.searchParams.get('state') ?? '/',
      ...(options.serverWalletCap !== undefined ? { cap: options.serverWalletCap.toString() } : {}),
      period: 'day',
    },
  });
  const back = await base(authorize.redirect, { redirect: 'manual', headers: { cookie: stateCookie } });
  const cookie = (back.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  // The vendor's grant cookie, with a token (not its sign-in state cookie).
  if (!cookie.startsWith(`${walletCookieName(terms.vendorId)}=`) || cookie.endsWith('='))
    throw new NetPayError(
      'server_wallet_sign_in',
      `${terms.vendorId} did not finish the wallet sign-in (${back.status})`,
    );
  await wallet.setServerGrant(origin, cookie);
  return cookie;
}

/** The vendor's server-side wallet receipt (base64url JSON); kept as it came if it does not decode. */
function decodeWalletReceipt(header: string): unknown {
  const bytes = fromBase64url(header);
  try {
    return bytes ? JSON.parse(new TextDecoder().decode(bytes)) : header;
  } catch {
    return header;
  }
}
