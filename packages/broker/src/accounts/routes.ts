/** Customers' accounts: registration, device codes, sessions, profile, TOTP, and the dev outbox (docs/broker.md §6.2–6.3). */
import { brokerApi as B } from '@netpay/api';
import { type Routable, serve } from '@netpay/service';
import { fail } from '../errors.ts';
import { bearer, type RouteDeps, wire } from '../http.ts';

export function accountRoutes(app: Routable, d: RouteDeps) {
  const { accounts, customer, keyed, config } = d;
  // Customers
  serve(app, B.register, (req, reply) =>
    keyed(req, reply, 'register', async () => ({ status: 201, body: await accounts.register(req.body) })),
  );
  serve(app, B.verifyDevice, async (req) => {
    const r = await accounts.verifyDevice({ deviceId: req.params.deviceId, code: req.body.code });
    if (!r.ok) throw fail('code_invalid', 'the code is wrong', { attemptsLeft: r.attemptsLeft });
    return { session: r.session };
  });
  serve(app, B.resendCode, (req, reply) =>
    keyed(req, reply, `code:${req.params.deviceId}`, async () => {
      await accounts.resendCode(req.params.deviceId);
      return { status: 202, body: { sent: true } };
    }),
  );
  // Signing in (here and in device verification) creates a fresh session each time and takes no
  // Idempotency-Key: replaying the answer would mean storing bearer tokens in the clear.
  serve(app, B.login, async (req) => accounts.login(req.body));
  serve(app, B.logout, async (req, reply) => {
    await customer(req);
    await accounts.logout(bearer(req)!);
    reply.status(204);
  });
  serve(app, B.me, async (req) => {
    const p = await accounts.profile(await customer(req));
    return {
      ...p,
      balance: wire(p.balance),
      currency: config.currency.code,
      exponent: config.currency.exponent,
    };
  });
  serve(app, B.enrolTotp, async (req) => accounts.enrolTotp(await customer(req)));
  serve(app, B.confirmTotp, async (req, reply) => {
    const s = await customer(req);
    return keyed(req, reply, `totp:${s.customerId}`, async () => ({
      body: await accounts.confirmTotp(s, req.body.code),
    }));
  });
  // Dev outbox: where device codes go when there is no SMS or e-mail provider.
  serve(app, B.outbox, async (req) => {
    if (!config.dev) throw fail('not_found', 'the outbox exists only in dev mode');
    const recipient = (req.query as { recipient?: string }).recipient;
    return { messages: await accounts.outbox(typeof recipient === 'string' ? recipient : undefined) };
  });
}
