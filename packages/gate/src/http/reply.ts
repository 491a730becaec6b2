/**
 * The core the framework adapters share (express.ts, fastify.ts, hono.ts): how a route's price is found,
 * and what goes on the wire for the gate's own answer — the HTML page for a person's browser (it sent
 * `Accept: text/html`), JSON for a program. Each adapter only copies this onto its framework's response.
 */

import type { GateAnswer } from '../errors.ts';
import type { Gate } from '../gate.ts';
import type { Price } from '../request.ts';

/** A route's price: fixed, or computed from the framework's request. */
export type PriceOf<R> = Price | ((req: R) => Price | Promise<Price>);

export const priceOf = <R>(spec: PriceOf<R>, req: R): Price | Promise<Price> =>
  typeof spec === 'function' ? spec(req) : spec;

/** What to send for a gate answer: status, headers (with content-type and -length) and body. */
export interface Reply {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

export function replyTo(gate: Gate, a: GateAnswer, accept: string | string[] | undefined): Reply {
  const page = /\btext\/html\b/.test(String(accept ?? '')) ? gate.answerPage(a) : undefined;
  const body = page ?? JSON.stringify(a.body);
  const type = page ? 'text/html; charset=utf-8' : 'application/json; charset=utf-8';
  return {
    status: a.status,
    headers: { ...a.headers, 'content-type': type, 'content-length': String(Buffer.byteLength(body)) },
    body,
  };
}
