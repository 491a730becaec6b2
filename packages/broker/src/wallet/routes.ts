/** Server-side wallets: the sign-in page and grant, vendors' charges and voids, customers' caps (docs/broker.md §16a). */
import { brokerApi as B } from '@netpay/api';
import { formatAmount, money, NetPayError } from '@netpay/protocol';
import { type Routable, type RouteRequest, serve } from '@netpay/service';
import type { FastifyReply } from 'fastify';
import { fail } from '../errors.ts';
import { type RouteDeps, wire } from '../http.ts';
import { renderAuthorizePage } from './page.ts';
import { finishSignIn, startSignIn } from './signin.ts';

type AuthorizeRequest = RouteRequest<typeof B.authorize>;
type AuthorizeBody = AuthorizeRequest['body'];

export function walletRoutes(app: Routable, d: RouteDeps) {
  signInRoutes(app, d);
  vendorRoutes(app, d);
  customerRoutes(app, d);
}

/** Server-side wallets (docs/broker.md §17): the sign-in page a vendor redirects to, and what it posts. */
function signInRoutes(app: Routable, d: RouteDeps) {
  const { wallet, cur, config } = d;
  serve(app, B.authorizePage, async (req, reply) => {
    const q = req.query;
    const vendor = await wallet.vendorFor(q.vendor, q.redirect_uri);
    reply.type('text/html; charset=utf-8').header('cache-control', 'no-store');
    return renderAuthorizePage({
      vendorId: vendor.id,
      vendorName: vendor.name,
      redirectUri: q.redirect_uri,
      state: q.state,
      cap: q.cap ?? formatAmount(money(config.wallet.defaultCap, cur)),
      period: q.period ?? 'day',
      currency: cur.code,
    });
  });
  // The sign-in page posts twice: login and password (a code goes to the login, as for a new device),
  // then the code and the cap. A signed-in app posts JSON once with its session (Authorization: Bearer).
  serve(app, B.authorize, async (req, reply) => {
    const form = String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
    return form ? authorizeForm(d, req.body, reply) : authorizeApp(d, req);
  });
}

/** The grant a sign-in asks for: the vendor, where to send the customer back, and the cap if any. */
function grantOptions(b: AuthorizeBody, cap: bigint | undefined) {
  return {
    vendorId: b.vendor,
    redirectUri: b.redirect_uri,
    ...(b.state !== undefined ? { state: b.state } : {}),
    ...(cap !== undefined ? { cap } : {}),
    ...(b.period ? { period: b.period } : {}),
  };
}

/** A signed-in app: one JSON post with the customer's session. */
async function authorizeApp({ customer, wallet, amount }: RouteDeps, req: AuthorizeRequest) {
  const b = req.body;
  const s = await customer(req);
  const r = await wallet.authorize(
    s.customerId,
    grantOptions(b, b.cap !== undefined ? amount(b.cap) : undefined),
  );
  return { redirect: r.redirect, grantId: r.grantId, cap: wire(r.cap), period: r.period };
}

/** A person at the form: credentials first, then the device code and the cap; a mistake shows the page again. */
async function authorizeForm(d: RouteDeps, b: AuthorizeBody, reply: FastifyReply) {
  const { accounts, wallet, capFromForm, config, cur } = d;
  await wallet.vendorFor(b.vendor, b.redirect_uri); // a bad vendor or redirect is a plain 4xx, no page
  try {
    if (!b.deviceId) {
      const login = { login: b.login ?? '', password: b.password ?? '', totp: b.totp || undefined };
      return signInPage(
        d,
        b,
        reply,
        await startSignIn({ accounts, wallet }, { vendorId: b.vendor, ...login }),
      );
    }
    // The cap is checked before the code is used up, so a typo in it can be fixed on the same page.
    const cap = b.capAmount !== undefined ? capFromForm(b.capAmount) : undefined;
    if (cap !== undefined && cap > config.wallet.maxCap)
      throw fail(
        'limit_exceeded',
        `a spending cap is at most ${formatAmount(money(config.wallet.maxCap, cur))}`,
      );
    const code = { deviceId: b.deviceId, code: b.code ?? '' };
    return reply.redirect(await finishSignIn({ accounts, wallet }, code, grantOptions(b, cap)), 303);
  } catch (e) {
    // A person at the form sees the page again with what went wrong.
    if (!(e instanceof NetPayError) || (e.status ?? 500) >= 500) throw e;
    const again = b.deviceId && e.code !== 'code_expired' && e.code !== 'too_many_attempts';
    return signInPage(d, b, reply, {
      status: e.status,
      error: e.message,
      ...(again ? { deviceId: b.deviceId } : {}),
    });
  }
}

/** The sign-in page again: the next step (the device code) or what went wrong, with what was typed. */
async function signInPage(
  { wallet, cur, config }: RouteDeps,
  b: AuthorizeBody,
  reply: FastifyReply,
  extra: { status?: number; error?: string; deviceId?: string; cap?: bigint; period?: 'day' | 'total' },
) {
  const vendor = await wallet.vendorFor(b.vendor, b.redirect_uri);
  reply
    .status(extra.status ?? 200)
    .type('text/html; charset=utf-8')
    .header('cache-control', 'no-store');
  return renderAuthorizePage({
    vendorId: vendor.id,
    vendorName: vendor.name,
    redirectUri: b.redirect_uri,
    state: b.state,
    cap:
      extra.cap !== undefined
        ? formatAmount(money(extra.cap, cur))
        : (b.capAmount ?? formatAmount(money(config.wallet.defaultCap, cur))),
    period: extra.period ?? b.period ?? 'day',
    currency: cur.code,
    login: b.login,
    error: extra.error,
    deviceId: extra.deviceId,
  });
}

/** What a vendor does with a grant: trade the code for a token, charge, void a charge. */
function vendorRoutes(app: Routable, { wallet, party, keyedTx, amount, grantWire }: RouteDeps) {
  // The vendor trades the code for a token. Not keyed: replaying the answer would store the token.
  serve(app, B.walletToken, async (req) => grantWire(await wallet.exchange(await party(req), req.body.code)));
  serve(app, B.walletCharge, async (req, reply) => {
    const id = await party(req);
    return keyedTx(req, reply, `wallet-charge:${id}`, async (tx) => {
      const r = await wallet.charge(tx, id, { ...req.body, amount: amount(req.body.amount) });
      return { status: 201, body: { ...grantWire(r), amount: wire(r.amount), fee: wire(r.fee) } };
    });
  });
  serve(app, B.walletVoid, async (req, reply) => {
    const id = await party(req);
    return keyedTx(req, reply, `wallet-void:${id}`, async (tx) => {
      const r = await wallet.voidCharge(tx, id, req.params.chargeId);
      return { body: { ...r, amount: wire(r.amount) } };
    });
  });
}

/** What a customer does with their grants: list them, set a cap, revoke one. */
function customerRoutes(app: Routable, { wallet, customer, amount, grantWire }: RouteDeps) {
  serve(app, B.grants, async (req) => {
    const s = await customer(req);
    return { grants: (await wallet.grants(s.customerId)).map(grantWire) };
  });
  serve(app, B.setCap, async (req) => {
    const s = await customer(req);
    return grantWire(
      await wallet.setCap(
        s.customerId,
        req.params.vendorId,
        amount(req.body.cap),
        req.body.period ?? undefined,
      ),
    );
  });
  serve(app, B.revoke, async (req, reply) => {
    const s = await customer(req);
    await wallet.revoke(s.customerId, req.params.vendorId);
    reply.status(204);
  });
}
