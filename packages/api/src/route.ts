import { z } from 'zod';

/**
 * One route of a NetPay HTTP API, written once: the server registers it (validation and the OpenAPI
 * document come from it) and the client calls it (requests built and answers parsed from it).
 */
export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

/**
 * Who may call a route (docs/broker.md §4): anyone (`none`), a signed-in customer (`customer`: Bearer
 * session token), a registered vendor or peer (`party`: a signed request, docs/signed-requests.md), the
 * operator (`admin`: Bearer admin token), or the holder of a bank account's token (`account`).
 */
export type Auth = 'none' | 'customer' | 'party' | 'admin' | 'account';

/** A body that is not JSON: an HTML page, or nothing at all (204, a redirect). */
export type RawBody = 'html' | 'empty';

export interface Route {
  readonly method: Method;
  /** Fastify-style path: `/me/chains/:chainId`. */
  readonly path: string;
  readonly summary: string;
  readonly auth: Auth;
  /** `required`: the caller must send an Idempotency-Key (docs/broker.md §5); `optional`: it may. */
  readonly key?: 'required' | 'optional';
  readonly params?: z.ZodType;
  readonly query?: z.ZodType;
  readonly body?: z.ZodType;
  /** The answers that are not errors, by status. */
  readonly responses: Readonly<Record<number, z.ZodType | RawBody>>;
  /** The error codes this route answers with besides those every route may (bad_request, auth, keys). */
  readonly errors?: readonly string[];
  /** Largest request body, where it differs from the service's default. */
  readonly bodyLimit?: number;
  /** Left out of the OpenAPI document (pages for browsers, dev-only endpoints). */
  readonly hidden?: boolean;
}

/** An Idempotency-Key chosen by the client: 8–128 printable ASCII characters (a UUID is typical). */
export const IdempotencyKeySchema = z
  .string()
  .regex(/^[\x21-\x7e]{8,128}$/, 'must be 8–128 printable characters');

/** Declares a route, keeping its literal types for the client. */
export const route = <const R extends Route>(r: R): R => r;

type In<S> = S extends z.ZodType ? z.input<S> : never;
type Out<S> = S extends z.ZodType ? z.output<S> : S extends 'html' ? string : undefined;

/** What a call of the route takes: its params, query and body, and optionally a key or a token. */
export type RouteInput<R extends Route> = (R['params'] extends z.ZodType
  ? { readonly params: In<R['params']> }
  : { readonly params?: undefined }) &
  (R['query'] extends z.ZodType ? { readonly query?: In<R['query']> } : { readonly query?: undefined }) &
  (R['body'] extends z.ZodType ? { readonly body: In<R['body']> } : { readonly body?: undefined }) & {
    /** The Idempotency-Key; a retry of one operation sends the same. Default for keyed routes: a fresh one. */
    readonly key?: string;
    /** A Bearer token for this call instead of the client's. */
    readonly token?: string;
  };

/** What a call of the route answers: the parsed body of any of its success statuses. */
export type RouteOutput<R extends Route> = {
  [S in keyof R['responses']]: Out<R['responses'][S]>;
}[keyof R['responses']];

/** The route's answer with its status, for callers that tell 200 from 202. */
export type RouteAnswer<R extends Route> = {
  [S in keyof R['responses']]: { readonly status: S; readonly body: Out<R['responses'][S]> };
}[keyof R['responses']];

/** A path's `:name` segment. */
const PATH_PARAM = /:([A-Za-z_][A-Za-z0-9_]*)/g;

/** Fills a path's `:name` segments from params, each URL-encoded. */
export function fillPath(path: string, params: Readonly<Record<string, unknown>> | undefined): string {
  return path.replace(PATH_PARAM, (_, name: string) => {
    const v = params?.[name];
    if (v === undefined || v === null) throw new TypeError(`missing path parameter ${name} for ${path}`);
    return encodeURIComponent(String(v));
  });
}

/**
 * A contract's operations as OpenAPI names them (`GET /accounts/{id}`), sorted, without hidden routes: what
 * a service's /docs/json must list, no more and no less.
 */
export function operationsOf(contract: Readonly<Record<string, Route>>): string[] {
  return Object.values(contract)
    .filter((r) => !r.hidden)
    .map((r) => `${r.method} ${r.path.replace(PATH_PARAM, '{$1}')}`)
    .sort();
}

/** The operations an OpenAPI document lists (`GET /accounts/{id}`), sorted. */
export function operationsIn(doc: { paths?: Record<string, Record<string, unknown>> }): string[] {
  return Object.entries(doc.paths ?? {})
    .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`))
    .sort();
}
