/**
 * The server-side wallet's sign-in routes (docs/broker.md §8): `signin` sends the browser to the broker's
 * sign-in page, `callback` takes the broker's one-time code back, trades it for the grant token and keeps
 * that in an HttpOnly cookie, `signout` forgets it. A nonce cookie ties a callback to the browser that
 * started the sign-in (login CSRF). Cookies are named per vendor.
 */
import { randomBytes, toBase64url, walletCookieName, walletStateCookieName } from '@netpay/protocol';
import { refusedByBroker } from '../broker-client.ts';
import type { GateContext } from '../deps.ts';
import { cookie, type GateRequest } from '../request.ts';

/** A response to a wallet route: a redirect, or an error the browser shows. */
export interface RouteAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body?: { code: string; message: string };
}

/** A same-site path to return to after signing in: never another origin, no control characters. */
const safeReturn = (p: unknown) =>
  // Printable ASCII only (percent-encode the rest), starting with one slash.
  typeof p === 'string' && /^\/(?![/\\])[!-~]*$/.test(p) && !p.includes('\\') && p.length <= 2048 ? p : '/';

const refuse = (status: number, code: string, message: string): RouteAnswer => ({
  status,
  headers: { 'content-type': 'application/json; charset=utf-8' },
  body: { code, message },
});

const redirect = (location: string, setCookie: string): RouteAnswer => ({
  status: 302,
  headers: { location, 'set-cookie': setCookie },
});

/** Serves one wallet route; `query` is the request's query parameters. */
export async function walletRoute(
  ctx: GateContext,
  route: string,
  query: Record<string, unknown>,
  headers: GateRequest['headers'] = {},
): Promise<RouteAnswer> {
  const root = ctx.walletBase();
  if (!root) return refuse(404, 'not_found', 'this vendor does not take server-side wallets');
  const secure = root.startsWith('https:') ? '; Secure' : '';
  const grantCookie = walletCookieName(ctx.vendorId);
  if (route === 'signin') {
    const nonce = toBase64url(randomBytes(16));
    const to = new URL(`${ctx.brokerUrl.replace(/\/+$/, '')}/wallet/authorize`);
    to.searchParams.set('vendor', ctx.vendorId);
    to.searchParams.set('redirect_uri', `${root}/callback`);
    to.searchParams.set('state', `${nonce}.${safeReturn(query.return)}`);
    const state = `${walletStateCookieName(ctx.vendorId)}=${nonce}; Path=${ctx.walletPath}; Max-Age=900`;
    return redirect(to.toString(), `${state}; HttpOnly; SameSite=Lax${secure}`);
  }
  if (route === 'callback') return callback(ctx, query, headers, secure);
  if (route === 'signout')
    return redirect(
      safeReturn(query.return),
      `${grantCookie}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax${secure}`,
    );
  return refuse(404, 'not_found', `no wallet route ${route}`);
}

/** The broker's code back: only the browser that started this sign-in may finish it. */
async function callback(
  ctx: GateContext,
  query: Record<string, unknown>,
  headers: GateRequest['headers'],
  secure: string,
): Promise<RouteAnswer> {
  if (typeof query.code !== 'string' || query.code.length > 128)
    return refuse(400, 'wallet_sign_in', 'the broker did not send a sign-in code back');
  // Else an attacker's grant could be planted in this browser.
  const state = typeof query.state === 'string' ? query.state : '';
  const dot = state.indexOf('.');
  const nonce = cookie(headers, walletStateCookieName(ctx.vendorId));
  if (dot < 1 || !nonce || state.slice(0, dot) !== nonce)
    return refuse(400, 'wallet_sign_in', 'this sign-in was not started in this browser; start it again');
  try {
    const grant = await ctx.broker.walletToken(query.code);
    const keep = `${walletCookieName(ctx.vendorId)}=${grant.token}; Path=/; Max-Age=31536000`;
    return redirect(safeReturn(state.slice(dot + 1)), `${keep}; HttpOnly; SameSite=Lax${secure}`);
  } catch (e) {
    if (refusedByBroker(e)) return refuse(400, 'wallet_sign_in', `${e.message}`);
    return refuse(503, 'broker_unavailable', 'the broker cannot be reached to finish signing in; try again');
  }
}
