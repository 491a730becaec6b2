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

/** Where a response's body is: Node's own writers, and what the handler wrote while it was held back. */
interface Held {
  readonly write: Response['write'];
  readonly end: (cb?: () => void) => void;
  readonly writeHead: (...args: unknown[]) => Response;
  readonly chunks: Buffer[];
  /** writeHead's arguments: it would fix the headers before the receipt is known. */
  head?: unknown[];
  /** end's callback, run once the response is really sent. */
  onEnd?: () => void;
  ended: boolean;
}

const callbackOf = (...args: unknown[]) =>
  args.find((a) => typeof a === 'function') as (() => void) | undefined;
const bufferOf = (chunk: unknown, encoding: unknown) =>
  Buffer.isBuffer(chunk)
    ? chunk
    : Buffer.from(chunk as string, typeof encoding === 'string' ? (encoding as BufferEncoding) : undefined);

/**
 * Holds `res` back: writeHead, write and end are buffered (the body is in memory until then); `ended` runs
 * when the handler ends the response. Node's own writers are kept in what it returns.
 */
function holdBack(res: Response, ended: () => void): Held {
  const held: Held = {
    write: res.write.bind(res),
    end: res.end.bind(res) as Held['end'],
    writeHead: res.writeHead.bind(res) as Held['writeHead'],
    chunks: [],
    ended: false,
  };
  res.writeHead = ((...args: unknown[]) => {
    held.head = args;
    if (typeof args[0] === 'number') res.statusCode = args[0];
    return res;
  }) as Response['writeHead'];
  // A write's callback runs once buffered, end's once really sent.
  res.write = ((chunk: unknown, encoding?: unknown, cb?: unknown) => {
    if (chunk !== undefined && chunk !== null) held.chunks.push(bufferOf(chunk, encoding));
    const done = callbackOf(encoding, cb);
    if (done) process.nextTick(done);
    return true;
  }) as Response['write'];
  res.end = ((chunk?: unknown, encoding?: unknown, cb?: unknown) => {
    if (held.ended) return res;
    held.ended = true;
    held.onEnd = callbackOf(chunk, encoding, cb);
    if (chunk !== undefined && chunk !== null && typeof chunk !== 'function')
      held.chunks.push(bufferOf(chunk, encoding));
    ended();
    return res;
  }) as Response['end'];
  return held;
}

/** Sends what the handler wrote, with the receipt's headers. */
function release(res: Response, held: Held, headers: Record<string, string>) {
  // From here on the response is really written: Node's own writes call writeHead too.
  res.writeHead = held.writeHead as Response['writeHead'];
  res.set(headers);
  const body = Buffer.concat(held.chunks);
  if (!res.headersSent) res.set('content-length', String(body.length));
  if (held.head) held.writeHead(...held.head);
  if (body.length > 0) held.write(body);
  held.end(held.onEnd);
}

/** Drops what the handler wrote and sends the gate's answer instead (the payment did not go through). */
function replace(gate: Gate, res: Response, held: Held, answer: GateAnswer) {
  res.writeHead = held.writeHead as Response['writeHead'];
  // The handler's headers (encoding, caching…) belong to its body, not to this answer.
  for (const h of res.getHeaderNames()) res.removeHeader(h);
  const r = replyTo(gate, answer, undefined);
  res.status(r.status).set(r.headers);
  held.write(r.body);
  held.end(held.onEnd);
}

/**
 * Express middleware pricing one route. The handler's response is held back until the coins are
 * recorded, then sent with the receipt header; a failed handler (status ≥ 400) is not charged.
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
      const held = holdBack(res, () => {
        gate
          .finish(started.ticket, res.statusCode < 400)
          .then((done) =>
            'answer' in done ? replace(gate, res, held, done.answer) : release(res, held, done.headers),
          )
          .catch((e: unknown) => {
            res.writeHead = held.writeHead as Response['writeHead'];
            res.status(500);
            held.end();
            next(e);
          });
      });
      // A client that goes away before the response releases the reservation uncharged.
      res.on('close', () => {
        if (held.ended) return;
        held.ended = true;
        void gate.finish(started.ticket, false);
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
