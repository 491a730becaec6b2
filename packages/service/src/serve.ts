import type { Route } from '@netpay/api';
import type { FastifyReply, FastifyRequest, RouteHandlerMethod, RouteOptions } from 'fastify';
import type { z } from 'zod';
import { ErrorBodySchema } from './app.ts';

/**
 * Registers a contract route (@netpay/api) on a service app: method, path, body limit, and the schemas
 * that validate the request and describe the answers in the OpenAPI document at /docs. The handler only
 * translates between the wire and a service. Answers are described, not re-validated on the way out
 * (the client parses them against the same schemas).
 */
type Out<S> = S extends z.ZodType ? z.output<S> : undefined;
export type RouteRequest<R extends Route> = FastifyRequest<{
  Body: Out<R['body']>;
  Params: Out<R['params']>;
  Querystring: Out<R['query']>;
}>;
export type RouteHandler<R extends Route> = (req: RouteRequest<R>, reply: FastifyReply) => Promise<unknown>;

const plainJson = () => (data: unknown) => JSON.stringify(data);

/** The OpenAPI responses of a route: its answers, and the error body for the statuses of its errors. */
function responses(r: Route) {
  const out: Record<number, z.ZodType> = {};
  for (const [status, body] of Object.entries(r.responses)) {
    if (typeof body !== 'string') out[Number(status)] = body;
  }
  out[400] = ErrorBodySchema;
  return out;
}

/** Any Fastify instance or plugin scope, whatever its type provider. */
export interface Routable {
  route(options: RouteOptions): unknown;
}

export function serve<R extends Route>(app: Routable, r: R, handler: RouteHandler<R>) {
  const errors = r.errors?.length ? `\n\nErrors: ${r.errors.map((c) => `\`${c}\``).join(', ')}.` : '';
  app.route({
    method: r.method,
    url: r.path,
    ...(r.bodyLimit ? { bodyLimit: r.bodyLimit } : {}),
    schema: {
      summary: r.summary,
      description: `Auth: ${r.auth}.${r.key ? ` Idempotency-Key ${r.key}.` : ''}${errors}`,
      ...(r.hidden ? { hide: true } : {}),
      ...(r.params ? { params: r.params } : {}),
      ...(r.query ? { querystring: r.query } : {}),
      ...(r.body ? { body: r.body } : {}),
      response: responses(r),
    },
    serializerCompiler: plainJson,
    handler: handler as unknown as RouteHandlerMethod,
  });
}
