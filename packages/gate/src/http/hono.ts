import type { Context, Hono, MiddlewareHandler } from 'hono';
import { DEFAULT_HANDOVER_PATH, type Gate, type GateAnswer, type GateRequest } from '../gate.ts';
import { type PriceOf, priceOf, replyTo } from './reply.ts';

export type HonoPrice = PriceOf<Context>;

const answerResponse = (gate: Gate, a: GateAnswer, accept: string | undefined) => {
  const r = replyTo(gate, a, accept);
  return new Response(r.body, { status: r.status, headers: r.headers });
};

const toGateRequest = (c: Context): GateRequest => ({
  method: c.req.method,
  url: new URL(c.req.url).pathname + new URL(c.req.url).search,
  headers: Object.fromEntries(c.req.raw.headers.entries()),
});

/**
 * Hono middleware pricing a route. Hono builds the response before sending it, so the gate records the
 * coins after the handler and before the response leaves; a failed handler (status ≥ 400) is not charged.
 *
 *   app.get('/article', netpayHono(gate, { amount: 25n }), (c) => c.json(article));
 */
export function netpayHono(gate: Gate, price: HonoPrice): MiddlewareHandler {
  return async (c, next) => {
    const p = await priceOf(price, c);
    if (p.amount === 0n) return next(); // free
    const started = await gate.begin(toGateRequest(c), p);
    if ('answer' in started) return answerResponse(gate, started.answer, c.req.header('accept'));
    let ok = false;
    try {
      await next();
      ok = c.res.status < 400 && !c.error;
    } finally {
      const done = await gate.finish(started.ticket, ok);
      if ('answer' in done) {
        c.res = answerResponse(gate, done.answer, undefined);
      } else if (Object.keys(done.headers).length > 0) {
        // A response made by fetch() (a proxy) has immutable headers: copy it before adding the receipt.
        const res = new Response(c.res.body, c.res);
        for (const [k, v] of Object.entries(done.headers)) res.headers.set(k, v);
        c.res = res;
      }
    }
  };
}

/** Adds the route other vendors call to ask this one to hand a chain over. */
export function netpayHonoHandover(app: Hono, gate: Gate): void {
  app.post(DEFAULT_HANDOVER_PATH, async (c) => {
    const body = await c.req.json().catch(() => null);
    const r = await gate.serveHandover(body);
    return c.json(r.body as object, r.status as 200);
  });
}

/** Adds the server-side wallet routes (signin, callback, signout), for a gate with a publicUrl. */
export function netpayHonoWallet(app: Hono, gate: Gate): void {
  app.get(`${gate.walletPath}/:route`, async (c) => {
    const r = await gate.walletRoute(
      c.req.param('route'),
      c.req.query(),
      Object.fromEntries(c.req.raw.headers.entries()),
    );
    return r.body ? c.json(r.body, r.status as 400, r.headers) : c.body(null, r.status as 302, r.headers);
  });
}
