/**
 * The one typed client of every NetPay HTTP API, derived from a contract (an object of routes): the
 * broker's, the bank's and a vendor's. Each route becomes a method taking its params, query and body and
 * answering its parsed response; an error answer or an unreachable server is a NetPayError
 * (status 503 and `details.reason` `network` or `timeout` when nothing answered).
 */
import { NetPayError } from '@netpay/protocol';
import { z } from 'zod';
import { fillPath, type Route, type RouteAnswer, type RouteInput, type RouteOutput } from './route.ts';

/** How a client reaches one server: its URL, credentials, time limit and names for messages. */
export interface Transport {
  /** The server's base URL (a trailing slash is ignored). */
  readonly url: string;
  /** Bearer token for `customer`, `admin` and `account` routes (a call's own `token` wins). */
  readonly token?: () => string | undefined;
  /** Signs a `party` route's request: the signature headers of docs/signed-requests.md. */
  readonly sign?: (request: {
    method: string;
    path: string;
    body: unknown;
  }) => Record<string, string> | Promise<Record<string, string>>;
  /** Per-request time limit. Default 10 s. */
  readonly timeoutMs?: number;
  /** Replaces the global fetch (tests, proxies). */
  readonly fetch?: typeof fetch;
  /** Names the server in messages: "the broker". Default "the server". */
  readonly name?: string;
  /**
   * The code of the error thrown when the server cannot be reached or does not answer in time (its status
   * is 503, as for a server that answered "unavailable": the outcome is unknown). Default `unreachable`.
   */
  readonly unreachableCode?: string;
  /**
   * Most bytes of an answer's body read: a longer answer is `bad_answer`, and the rest is not read, so a
   * server cannot make this process hold more. Default 16 MiB.
   */
  readonly maxAnswerBytes?: number;
}

const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

export type Client<C extends Record<string, Route>> = {
  readonly [K in keyof C]: (input: RouteInput<C[K]>) => Promise<RouteOutput<C[K]>>;
} & {
  readonly url: string;
  /** Calls a route and answers its status too (for routes with more than one success status). */
  answer<R extends Route>(route: R, input: RouteInput<R>): Promise<RouteAnswer<R>>;
};

const ErrorBody = z.object({
  code: z.string(),
  message: z.string(),
  details: z.record(z.string(), z.unknown()).optional(),
});

function queryString(query: unknown): string {
  if (!query || typeof query !== 'object') return '';
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** True for the error a client throws when nothing answered (unreachable, or no answer in time). */
export function unanswered(e: unknown): boolean {
  const reason = e instanceof NetPayError ? e.details?.reason : undefined;
  return reason === 'network' || reason === 'timeout';
}

/**
 * True when the other service was not there to do the work: nothing answered, or a 5xx (it is starting,
 * or a gateway in front of it lost its answer). Worth asking again, with the same idempotency key.
 */
export function unavailable(e: unknown): boolean {
  return unanswered(e) || (e instanceof NetPayError && (e.status === undefined || e.status >= 500));
}

/** What every call to one server needs: its transport, its root URL and its name in messages. */
interface Server {
  readonly transport: Transport;
  readonly root: string;
  readonly who: string;
}

/** A call's headers: JSON body, idempotency key, and a signature or a bearer token by the route's auth. */
async function headersFor(server: Server, r: Route, path: string, input: RouteInput<Route>) {
  const h: Record<string, string> = {};
  if (input.body !== undefined) h['content-type'] = 'application/json';
  const key = input.key ?? (r.key === 'required' ? globalThis.crypto.randomUUID() : undefined);
  if (key) h['idempotency-key'] = key;
  if (r.auth === 'party') {
    if (!server.transport.sign)
      throw new TypeError(`${r.method} ${r.path} is a signed route: give the client sign`);
    Object.assign(h, await server.transport.sign({ method: r.method, path, body: input.body ?? null }));
  } else if (r.auth !== 'none' || input.token) {
    const token = input.token ?? server.transport.token?.();
    if (token) h.authorization = `Bearer ${token}`;
  }
  return h;
}

/** The error for a server that could not be reached or did not answer in time: 503, outcome unknown. */
function unreachable({ transport, root, who }: Server, e: unknown): NetPayError {
  const name = (e as { name?: string }).name;
  const reason = name === 'TimeoutError' || name === 'AbortError' ? 'timeout' : 'network';
  const what = reason === 'timeout' ? `no answer from ${who} in time` : `cannot reach ${who} at ${root}`;
  return new NetPayError(transport.unreachableCode ?? 'unreachable', `${what}: ${(e as Error).message}`, {
    status: 503,
    details: { reason },
    cause: e,
  });
}

async function send(server: Server, r: Route, input: RouteInput<Route>): Promise<Response> {
  const path =
    fillPath(r.path, input.params as Record<string, unknown> | undefined) + queryString(input.query);
  const init: RequestInit = {
    method: r.method,
    headers: await headersFor(server, r, path, input),
    signal: AbortSignal.timeout(server.transport.timeoutMs ?? 10_000),
    ...(input.body !== undefined ? { body: JSON.stringify(input.body) } : {}),
  };
  try {
    return await (server.transport.fetch ?? globalThis.fetch)(server.root + path, init);
  } catch (e) {
    throw unreachable(server, e);
  }
}

/** The error for an answer the route does not list: the server's {code, message} if it sent one. */
async function refusal(server: Server, r: Route, res: Response): Promise<NetPayError> {
  const json = await jsonOf(res, server.transport.maxAnswerBytes).catch(() => undefined);
  const e = ErrorBody.safeParse(json);
  return new NetPayError(
    e.success ? e.data.code : 'bad_answer',
    e.success ? e.data.message : `${server.who} answered ${res.status} to ${r.method} ${r.path}`,
    { status: res.status, ...(e.success && e.data.details ? { details: e.data.details } : {}) },
  );
}

/** The body of a listed answer: nothing, HTML text, or JSON parsed by the route's schema. */
async function bodyOf(
  server: Server,
  r: Route,
  res: Response,
  expected: Route['responses'][number],
): Promise<unknown> {
  if (expected === 'empty') return undefined;
  const max = server.transport.maxAnswerBytes;
  if (expected === 'html') return textOf(res, max);
  const parsed = expected.safeParse(await jsonOf(res, max).catch((e: unknown) => undefinedUnlessTooBig(e)));
  if (!parsed.success)
    throw new NetPayError(
      'bad_answer',
      `unexpected answer from ${server.who} to ${r.method} ${r.path}: ${parsed.error.message}`,
      { status: 502 },
    );
  return parsed.data;
}

async function answer<R extends Route>(server: Server, r: R, input: RouteInput<R>): Promise<RouteAnswer<R>> {
  const res = await send(server, r, input as RouteInput<Route>);
  const expected = r.responses[res.status];
  if (expected === undefined) throw await refusal(server, r, res);
  const body = await bodyOf(server, r, res, expected);
  return { status: res.status, body } as RouteAnswer<R>;
}

/** Builds a client for one server from its contract. */
export function createClient<C extends Record<string, Route>>(contract: C, transport: Transport): Client<C> {
  const server: Server = {
    transport,
    root: transport.url.replace(/\/+$/, ''),
    who: transport.name ?? 'the server',
  };
  const methods = Object.fromEntries(
    Object.entries(contract).map(([name, r]) => [
      name,
      async (input: RouteInput<Route>) => (await answer(server, r, input)).body,
    ]),
  );
  return {
    ...methods,
    url: server.root,
    answer: <R extends Route>(r: R, input: RouteInput<R>) => answer(server, r, input),
  } as Client<C>;
}

/** Thrown by `textOf` for an answer longer than the client reads. */
class AnswerTooBig extends NetPayError {}

const undefinedUnlessTooBig = (e: unknown): undefined => {
  if (e instanceof AnswerTooBig) throw e;
  return undefined;
};

/** The answer's body as text, read up to `max` bytes (`bad_answer` past that, the rest left unread). */
async function textOf(res: Response, max = MAX_ANSWER_BYTES): Promise<string> {
  const tooBig = () =>
    new AnswerTooBig('bad_answer', `the answer is longer than the ${max} bytes read`, { status: 502 });
  if (Number(res.headers.get('content-length') ?? 0) > max) {
    await res.body?.cancel().catch(() => {});
    throw tooBig();
  }
  if (!res.body) return '';
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let length = 0;
  for (let r = await reader.read(); !r.done; r = await reader.read()) {
    length += r.value.length;
    if (length > max) {
      await reader.cancel().catch(() => {});
      throw tooBig();
    }
    parts.push(r.value);
  }
  const all = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return new TextDecoder().decode(all);
}

/** The answer's body parsed as JSON (read up to `max` bytes). */
const jsonOf = async (res: Response, max?: number): Promise<unknown> => JSON.parse(await textOf(res, max));
