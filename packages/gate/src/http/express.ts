import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { DEFAULT_HANDOVER_PATH, type Gate, type GateAnswer, type GateRequest } from '../gate.ts';
import { type PriceOf, priceOf, replyTo } from './reply.ts';

export type ExpressPrice = PriceOf<Request>;

const sendAnswer = (gate: Gate, req: Request, res: Response, a: GateAnswer) => {
  const r = replyTo(gate, a, req.headers.accept);
  res.status(r.status).set(r.headers).send(r.body);
};

const toGateRequest = (req: Request): GateRequest => ({
  method: req.method,
  url: req.originalUrl,
  headers: req.headers as GateRequest['headers'],
});

/**
 * Express middleware pricing one route. The handler's response is held back (writeHead, write and end are
 * buffered, so the body is in memory until then) until the coins are recorded, then sent with the receipt
 * header; a failed handler (status ≥ 400) is not charged.
 *
 *   app.get('/article', netpayExpress(gate, { amount: 25n }), (req, res) => res.json(article));
 */
export function netpayExpress(gate: Gate, price: ExpressPrice): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction) => {
    try {
      const p = await priceOf(price, req);
      if (p.amount === 0n) return next(); // free
      const started = await gate.begin(toGateRequest(req), p);
      if ('answer' in started) return sendAnswer(gate, req, res, started.answer);
      const chunks: Buffer[] = [];
      const write = res.write.bind(res);
      const end = res.end.bind(res);
      const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => Response;
      let finished = false;
      // writeHead would fix the headers before the receipt is known: keep its arguments for later.
      let head: unknown[] | undefined;
      res.writeHead = ((...args: unknown[]) => {
        head = args;
        if (typeof args[0] === 'number') res.statusCode = args[0];
        return res;
      }) as Response['writeHead'];
      // Callbacks passed to write/end: a write's runs once buffered, end's once really sent.
      const callbackOf = (...args: unknown[]) =>
        args.find((a) => typeof a === 'function') as (() => void) | undefined;
      const encodingOf = (e: unknown) => (typeof e === 'string' ? (e as BufferEncoding) : undefined);
      let onEnd: (() => void) | undefined;
      res.write = ((chunk: unknown, encoding?: unknown, cb?: unknown) => {
        if (chunk !== undefined && chunk !== null) {
          chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string, encodingOf(encoding)));
        }
        const done = callbackOf(encoding, cb);
        if (done) process.nextTick(done);
        return true;
      }) as Response['write'];
      res.end = ((chunk?: unknown, encoding?: unknown, cb?: unknown) => {
        if (finished) return res;
        finished = true;
        onEnd = callbackOf(chunk, encoding, cb);
        if (chunk !== undefined && chunk !== null && typeof chunk !== 'function') {
          chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string, encodingOf(encoding)));
        }
        gate
          .finish(started.ticket, res.statusCode < 400)
          .then((done) => {
            // From here on the response is really written: Node's own writes call writeHead too.
            res.writeHead = writeHead as Response['writeHead'];
            if ('answer' in done) {
              // The handler's headers (encoding, caching…) belong to its body, not to this answer.
              for (const h of res.getHeaderNames()) res.removeHeader(h);
              head = undefined;
              const r = replyTo(gate, done.answer, undefined);
              res.status(r.status).set(r.headers);
              write(r.body);
              end(onEnd);
              return;
            }
            res.set(done.headers);
            const body = Buffer.concat(chunks);
            if (!res.headersSent) res.set('content-length', String(body.length));
            if (head) writeHead(...head);
            if (body.length > 0) write(body);
            end(onEnd);
          })
          .catch((e: unknown) => {
            res.writeHead = writeHead as Response['writeHead'];
            res.status(500);
            end();
            next(e);
          });
        return res;
      }) as Response['end'];
      // A client that goes away before the response releases the reservation uncharged.
      res.on('close', () => {
        if (!finished) {
          finished = true;
          void gate.finish(started.ticket, false);
        }
      });
      next();
    } catch (e) {
      next(e);
    }
  };
}

/** The route other vendors call to ask this one to hand a chain over (needs express.json()). */
export function netpayExpressHandover(gate: Gate): [string, RequestHandler] {
  return [
    DEFAULT_HANDOVER_PATH,
    async (req: Request, res: Response) => {
      const r = await gate.serveHandover(req.body);
      res.status(r.status).json(r.body);
    },
  ];
}

/** The server-side wallet routes (signin, callback, signout), for a gate with a publicUrl. */
export function netpayExpressWallet(gate: Gate): [string, RequestHandler] {
  return [
    `${gate.walletPath}/:route`,
    async (req: Request, res: Response, next: NextFunction) => {
      try {
        const r = await gate.walletRoute(
          String(req.params.route),
          req.query as Record<string, unknown>,
          req.headers as GateRequest['headers'],
        );
        res.status(r.status).set(r.headers);
        if (r.body) res.json(r.body);
        else res.end();
      } catch (e) {
        next(e);
      }
    },
  ];
}
