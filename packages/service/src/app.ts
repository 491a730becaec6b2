/**
 * The Fastify app every NetPay service starts from: zod schemas, OpenAPI at /docs, /livez and /healthz,
 * /metrics, checks on every input (input.ts) and one error format.
 */
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import { NetPayError } from '@netpay/protocol';
import Fastify, { type FastifyError, type FastifyReply } from 'fastify';
import {
  hasZodFastifySchemaValidationErrors,
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { LoggerOptions } from 'pino';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import { z } from 'zod';
import { type ErrorBody, serviceError } from './errors.ts';
import { checkInput, MAX_JSON_DEPTH } from './input.ts';

export interface AppOptions {
  readonly title: string;
  readonly description: string;
  readonly version?: string;
  /** pino options, or false for silence (tests). */
  readonly logger?: LoggerOptions | boolean;
  /** Largest request body accepted. Default 64 KiB. */
  readonly bodyLimit?: number;
  /**
   * Readiness check for /healthz (e.g. a database ping, a peer service reached): throwing makes /healthz
   * answer 503 `not_ready` with the error's message. /livez answers 200 regardless.
   */
  readonly health?: () => Promise<void>;
  /**
   * Addresses or CIDR ranges of reverse proxies whose `X-Forwarded-For` names the client (`req.ip`).
   * Default none: the client is the TCP peer, and the header is ignored (anyone could write it).
   */
  readonly trustedProxies?: readonly string[];
}

export const ErrorBodySchema = z
  .object({
    code: z.string().describe('machine-readable error code'),
    message: z.string().describe('what went wrong, for people'),
    details: z.record(z.string(), z.unknown()).optional(),
  })
  .describe('Error');

function summarizeIssues(err: FastifyError): string {
  const issues = (err.validation ?? []) as unknown as {
    instancePath?: string;
    message?: string;
    params?: unknown;
  }[];
  const parts = issues.slice(0, 3).map((i) => {
    const path = i.instancePath ? i.instancePath.replace(/^\//, '').replaceAll('/', '.') : '';
    return path ? `${path}: ${i.message}` : `${i.message}`;
  });
  const where = (err as { validationContext?: string }).validationContext ?? 'request';
  return `invalid ${where}: ${parts.join('; ') || err.message}`;
}

/** The request body as the client sent it, before validation applied defaults (what a signature covers). */
export function originalBody(req: { body?: unknown }): unknown {
  const r = req as { originalBody?: unknown; body?: unknown };
  return 'originalBody' in r ? r.originalBody : r.body;
}

/**
 * A request Node's HTTP parser refuses (a control character in the URL or a header, a broken request
 * line, headers over 16 KiB, too slow) is answered in the one error format too, as Fastify's own handler
 * would otherwise answer with its statuses.
 */
function answerClientError(err: Error & { code?: string }, socket: import('node:net').Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, reason, code] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'Request Timeout', 'request_timeout']
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'Request Header Fields Too Large', 'headers_too_large']
        : [400, 'Bad Request', 'bad_request'];
  const body = JSON.stringify({ code, message: `malformed HTTP request: ${err.message}` });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}

// Set on a request whose body the JSON parser below has checked already.
const INPUT_CHECKED = Symbol('netpay.inputChecked');
type Checked = { [INPUT_CHECKED]?: true; originalBody?: unknown };

/** Fastify with zod schemas for validation and serialization, and the input checks of input.ts. */
function zodFastify(options: AppOptions) {
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimit ?? 64 * 1024,
    trustProxy: options.trustedProxies?.length ? [...options.trustedProxies] : false,
    clientErrorHandler: answerClientError,
    // Refusals Fastify makes before routing (a URL that does not decode, a path parameter over 100
    // characters) in the one error format too.
    frameworkErrors: (error, _req, reply) => {
      const tooLong = error.code === 'FST_ERR_MAX_PARAM_LENGTH';
      const code = tooLong ? 'uri_too_long' : 'bad_request';
      const status = tooLong ? 414 : (error.statusCode ?? 400);
      (reply as unknown as FastifyReply).status(status).send({ code, message: error.message });
    },
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  // JSON bodies: Fastify's own parser (which refuses __proto__ and constructor keys), then one walk that
  // bounds the depth and refuses control characters, before validation, hashing or any handler.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    parseJson(req, body as string, (err: Error | null, value?: unknown) => {
      if (err) return done(err, undefined);
      try {
        checkInput(value, 'the body', MAX_JSON_DEPTH);
      } catch (e) {
        return done(e as Error, undefined);
      }
      (req as Checked)[INPUT_CHECKED] = true;
      done(null, value);
    });
  });

  app.addHook('preValidation', async (req) => {
    // Keep the body as it arrived (before schema defaults and transforms) for signature checks.
    (req as Checked).originalBody = req.body;
    // Path and query strings can only hold a control character %-escaped: one indexOf for most requests.
    if (req.url.includes('%')) {
      checkInput(req.params, 'the path');
      checkInput(req.query, 'the query');
    }
    // Bodies of other types (text, forms) are checked here.
    if (req.body !== undefined && !(req as Checked)[INPUT_CHECKED]) checkInput(req.body, 'the body');
  });
  return app;
}

type ServiceApp = ReturnType<typeof zodFastify>;

/** Counts and times every request by route and status, with the process's default metrics. */
function addMetrics(app: ServiceApp): Registry {
  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics });
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests by route and status',
    labelNames: ['method', 'route', 'status'],
    registers: [metrics],
  });
  const latency = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency',
    labelNames: ['method', 'route'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [metrics],
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    requests.inc({ method: req.method, route, status: String(reply.statusCode) });
    latency.observe({ method: req.method, route }, reply.elapsedTime / 1000);
  });
  return metrics;
}

/** The OpenAPI document derived from the routes' schemas, at /docs and /docs/json. */
function addDocs(app: ServiceApp, options: AppOptions): void {
  app.register(fastifySwagger, {
    openapi: {
      info: { title: options.title, description: options.description, version: options.version ?? '0.1.0' },
    },
    transform: jsonSchemaTransform,
  });
  app.register(fastifySwaggerUi, { routePrefix: '/docs' });
}

/**
 * One error format, `{ code, message }`: a NetPayError with its own status, a 4xx for anything the caller
 * did (schema, size, media type, JSON, unknown route), and a logged 500 for the rest.
 */
function addErrorFormat(app: ServiceApp): void {
  app.setErrorHandler((error: FastifyError, req, reply) => {
    const send = (status: number, body: ErrorBody) => reply.status(status).send(body);
    if (error instanceof NetPayError && error.status !== undefined) {
      // An error that says when to try again (rate limits, live leases) says it in the header too.
      const retryAfter = error.details?.retryAfter;
      if (typeof retryAfter === 'number') reply.header('retry-after', String(retryAfter));
      return send(error.status, { code: error.code, message: error.message, details: error.details });
    }
    if (hasZodFastifySchemaValidationErrors(error)) {
      return send(400, { code: 'bad_request', message: summarizeIssues(error as FastifyError) });
    }
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
      return send(413, { code: 'body_too_large', message: error.message });
    if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      return send(415, { code: 'unsupported_media_type', message: error.message });
    }
    if (
      error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' ||
      error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' ||
      error.name === 'SyntaxError'
    ) {
      return send(400, { code: 'bad_json', message: `request body is not valid JSON: ${error.message}` });
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) return send(status, { code: 'bad_request', message: error.message });
    req.log.error({ err: error }, 'unhandled error');
    return send(500, { code: 'internal', message: 'internal error' });
  });
  app.setNotFoundHandler((req, reply) => {
    reply.status(404).send({ code: 'not_found', message: `no route ${req.method} ${req.url}` });
  });
}

/**
 * The probes, hidden from /docs: /livez (200 while the process serves HTTP), /healthz (ready: the
 * service's own check passes, else 503 `not_ready` with what is missing) and the Prometheus /metrics.
 */
function addProbes(app: ServiceApp, health: AppOptions['health'], metrics: Registry): void {
  const ok = { schema: { hide: true, response: { 200: z.object({ status: z.literal('ok') }) } } };
  app.get('/livez', ok, async () => ({ status: 'ok' as const }));
  app.get('/healthz', ok, async () => {
    try {
      await health?.();
    } catch (e) {
      throw serviceError('not_ready', `not ready: ${e instanceof Error ? e.message : String(e)}`);
    }
    return { status: 'ok' as const };
  });
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    reply.header('content-type', metrics.contentType);
    return metrics.metrics();
  });
}

/**
 * A Fastify app with zod schemas for validation and OpenAPI (served at /docs and /docs/json), /livez,
 * /healthz, Prometheus /metrics, the input checks of input.ts, and one error format: `{ code, message }`
 * with a 4xx for anything the caller did.
 */
export function createServiceApp(options: AppOptions) {
  const app = zodFastify(options);
  const metrics = addMetrics(app);
  addDocs(app, options);
  addErrorFormat(app);
  addProbes(app, options.health, metrics);
  return { app, metrics };
}
