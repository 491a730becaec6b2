import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DEFAULT_HANDOVER_PATH, type Gate, type GateRequest } from '../gate.ts';
import { type PriceOf, priceOf, replyTo } from './reply.ts';

/** A route's price: fixed, or computed from the request. Put it in the route's `config.netpay`. */
export type RoutePrice = PriceOf<FastifyRequest>;

declare module 'fastify' {
  interface FastifyContextConfig {
    netpay?: RoutePrice;
  }
}

type Ticketed = FastifyRequest & { netpayTicket?: Parameters<Gate['finish']>[0]; netpayDone?: boolean };

const toGateRequest = (req: FastifyRequest): GateRequest => ({
  method: req.method,
  url: req.url,
  headers: req.headers,
});

/**
 * Adds the NetPay gate to a Fastify app (with the hand-over and server-side wallet routes): any route with `config: { netpay: price }` answers 402 with terms
 * until paid; a paid request runs its handler, and the coins are recorded (onSend) before the response
 * leaves, with a NetPay-Receipt header. A handler that fails (status ≥ 400 or throws) is not charged.
 *
 *   app.get('/article', { config: { netpay: { amount: 25n } } }, async () => article);
 */
export function netpayFastify(
  app: FastifyInstance,
  gate: Gate,
  options: { handoverPath?: string } = {},
): void {
  app.post(options.handoverPath ?? DEFAULT_HANDOVER_PATH, async (req, reply) => {
    const r = await gate.serveHandover(req.body);
    return reply.code(r.status).send(r.body);
  });

  // Server-side wallet sign-in (when the gate has a publicUrl): signin, callback, signout.
  app.get(`${gate.walletPath}/:route`, async (req, reply) => {
    const r = await gate.walletRoute(
      (req.params as { route: string }).route,
      req.query as Record<string, unknown>,
      req.headers,
    );
    return reply
      .code(r.status)
      .headers(r.headers)
      .send(r.body ?? '');
  });

  app.addHook('preHandler', async (req, reply) => {
    const spec = req.routeOptions.config.netpay;
    if (!spec) return;
    const price = await priceOf(spec, req);
    if (price.amount === 0n) return; // free
    const started = await gate.begin(toGateRequest(req), price);
    if ('answer' in started) {
      const r = replyTo(gate, started.answer, req.headers.accept);
      return reply.code(r.status).headers(r.headers).send(r.body);
    }
    (req as Ticketed).netpayTicket = started.ticket;
  });

  app.addHook('onSend', async (req, reply, payload) => {
    const r = req as Ticketed;
    const ticket = r.netpayTicket;
    if (!ticket || r.netpayDone) return payload;
    r.netpayDone = true;
    const done = await gate.finish(ticket, reply.statusCode < 400);
    if ('answer' in done) {
      const r = replyTo(gate, done.answer, undefined);
      reply.code(r.status).headers(r.headers);
      return r.body;
    }
    reply.headers(done.headers);
    return payload;
  });

  // A request that ends without sending (client gone) releases its reservation uncharged.
  app.addHook('onResponse', async (req) => {
    const r = req as Ticketed;
    if (r.netpayTicket && !r.netpayDone) {
      r.netpayDone = true;
      await gate.finish(r.netpayTicket, false);
    }
  });
}
