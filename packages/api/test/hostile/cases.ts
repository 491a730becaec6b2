/**
 * Hostile requests for every operation a service's OpenAPI document lists (its /docs/json, and the contract
 * routes hidden from it): a fixed catalogue per operation (bodies that are not JSON or too large or too
 * deep, wrong content types, bad path and query parameters) and, drawn by fast-check, bad values put in
 * the body's fields and junk headers (headers.ts). Each draft is sent with no auth, garbage auth and another
 * party's valid credentials, and with the right credentials when the contract (@netpay/api's zod schemas)
 * says the request is malformed (verdict.ts).
 */
import fc from 'fast-check';
import { z } from 'zod';
import { bankApi } from '../../src/bank.ts';
import { brokerApi } from '../../src/broker/index.ts';
import type { Route } from '../../src/route.ts';
import { vendorApi } from '../../src/vendor.ts';
import { webApi } from '../../src/web.ts';
import { HEADER_JUNK } from './headers.ts';
import type { RawRequest } from './http.ts';
import {
  type Bad,
  badValues,
  CONTROL,
  deepArray,
  fieldsOf,
  type JsonSchema,
  plausible,
  Raw,
  REMOVE,
  setAt,
  toJson,
} from './schema.ts';
import type { ServiceName } from './services.ts';

/** One operation of a served OpenAPI document, with its contract route where @netpay/api has one. */
export interface Operation {
  readonly service: ServiceName;
  readonly method: string;
  /** OpenAPI path: `/me/chains/{chainId}`. */
  readonly path: string;
  readonly auth: string;
  readonly params: readonly string[];
  readonly query: readonly { name: string; schema: JsonSchema }[];
  readonly body?: JsonSchema;
  readonly bodyLimit: number;
  readonly contract?: Route;
}

export const opName = (op: Pick<Operation, 'method' | 'path'>) => `${op.method} ${op.path}`;

const CONTRACTS: Record<ServiceName, Readonly<Record<string, Route>>> = {
  broker: brokerApi,
  bank: bankApi,
  vendor: vendorApi,
  web: webApi,
};
/** Each service's body limit unless a route has its own (createServiceApp's default, the vendor's 1 MiB). */
const BODY_LIMIT: Record<ServiceName, number> = {
  broker: 64 * 1024,
  bank: 64 * 1024,
  vendor: 1024 * 1024,
  web: 64 * 1024,
};

interface OpenApiOperation {
  description?: string;
  parameters?: { in: string; name: string; schema: JsonSchema }[];
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
}
export interface OpenApiDoc {
  paths?: Record<string, Record<string, OpenApiOperation>>;
}

/** The operations of a served document, each matched to its contract route by method and path. */
export function operationsFrom(service: ServiceName, doc: OpenApiDoc): Operation[] {
  const contract = new Map(
    Object.values(CONTRACTS[service]).map((r) => [`${r.method} ${r.path.replace(/:(\w+)/g, '{$1}')}`, r]),
  );
  const out: Operation[] = [];
  for (const [path, ops] of Object.entries(doc.paths ?? {})) {
    for (const [m, o] of Object.entries(ops)) {
      const method = m.toUpperCase();
      const route = contract.get(`${method} ${path}`);
      const auth = /Auth: (\w+)\./.exec(o.description ?? '')?.[1] ?? route?.auth ?? 'none';
      out.push({
        service,
        method,
        path,
        auth,
        params: (o.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name),
        query: (o.parameters ?? [])
          .filter((p) => p.in === 'query')
          .map((p) => ({ name: p.name, schema: p.schema })),
        ...(o.requestBody?.content?.['application/json']?.schema
          ? { body: o.requestBody.content['application/json'].schema }
          : {}),
        bodyLimit: route?.bodyLimit ?? BODY_LIMIT[service],
        ...(route ? { contract: route } : {}),
      });
    }
  }
  return [...out, ...hiddenOperations(service, out)];
}

/**
 * The contract's routes left out of the document (pages for browsers): walked too, their query and body
 * described by the contract's own schemas.
 */
function hiddenOperations(service: ServiceName, listed: readonly Operation[]): Operation[] {
  const seen = new Set(listed.map(opName));
  return Object.values(CONTRACTS[service])
    .filter((r) => r.hidden && !seen.has(`${r.method} ${r.path.replace(/:(\w+)/g, '{$1}')}`))
    .map((r) => {
      const query = r.query ? (z.toJSONSchema(r.query, { io: 'input' }) as JsonSchema) : undefined;
      return {
        service,
        method: r.method,
        path: r.path.replace(/:(\w+)/g, '{$1}'),
        auth: r.auth,
        params: [...r.path.matchAll(/:(\w+)/g)].map((m) => m[1]!),
        query: Object.entries(query?.properties ?? {}).map(([name, schema]) => ({ name, schema })),
        ...(r.body ? { body: z.toJSONSchema(r.body, { io: 'input' }) as JsonSchema } : {}),
        bodyLimit: r.bodyLimit ?? BODY_LIMIT[service],
        contract: r,
      };
    });
}

/** A request before its credentials: what is wrong with it, and its parts. */
export interface Draft {
  readonly label: string;
  readonly params?: Readonly<Record<string, string>>;
  /** Path parameters already percent-encoded (or deliberately not). */
  readonly rawParams?: boolean;
  readonly query?: string;
  readonly json?: unknown;
  readonly raw?: { readonly body: string; readonly type?: string };
  readonly headers?: Readonly<Record<string, string>>;
  /** Malformed whatever the schema says (not JSON, too large, a media type the route does not take). */
  readonly refuse?: boolean;
}

export type AuthVariant = 'none' | 'garbage' | 'other' | 'own';
export const VARIANTS: readonly AuthVariant[] = ['none', 'garbage', 'other', 'own'];

/** A request ready to send, and whether it must be refused (a 4xx) rather than merely not crash. */
export interface Case {
  readonly op: Operation;
  readonly label: string;
  readonly variant: AuthVariant;
  readonly request: RawRequest;
  readonly mustRefuse: boolean;
}

const PARAM_JUNK: readonly { label: string; value: string }[] = [
  { label: 'NUL', value: '%00' },
  { label: 'control characters', value: '%01%1B%7F' },
  { label: 'traversal', value: '..%2F..%2Fetc%2Fpasswd' },
  { label: 'bad percent-encoding', value: '%zz%' },
  { label: '2 KB', value: 'p'.repeat(2_000) },
  { label: '20 KB (past the header limit)', value: 'p'.repeat(20_000) },
  { label: 'unicode', value: encodeURIComponent('ｆｕｌｌ\u202ewidth') },
  { label: 'lone surrogate', value: '%ED%A0%80' },
  { label: 'empty', value: '' },
];

/** The catalogue every operation gets: bodies, media types, headers, parameters, query strings. */
export function fixedDrafts(op: Operation, base: unknown): Draft[] {
  const out: Draft[] = [];
  const takesBody = op.method !== 'GET' && op.method !== 'DELETE';
  if (takesBody) {
    const baseJson = toJson(base ?? {});
    const deep = Math.min(100_000, Math.floor((op.bodyLimit - 200) / 2));
    out.push(
      { label: 'extra field', json: { ...(base as object), extraField: 1 } },
      { label: 'body is an array', json: [base] },
      { label: 'body is a string', json: 'body' },
      { label: 'body is a number', json: new Raw('1e400') },
      { label: 'body is null', json: null },
      { label: `top-level nested ${deep} deep`, json: deepArray(deep), refuse: true },
      { label: `field nested ${deep - 20} deep`, json: withDeepField(base, deep - 20), refuse: true },
      {
        label: '5 MB body',
        raw: { body: `{"a":"${'x'.repeat(5 * 1024 * 1024)}"}`, type: 'application/json' },
        refuse: true,
      },
      {
        label: 'truncated JSON',
        raw: { body: baseJson.slice(0, -1), type: 'application/json' },
        refuse: true,
      },
      { label: 'not JSON', raw: { body: 'nul', type: 'application/json' }, refuse: true },
      { label: 'trailing comma', raw: { body: '{"a":1,}', type: 'application/json' }, refuse: true },
      { label: 'byte-order mark', raw: { body: `\ufeff${baseJson}`, type: 'application/json' } },
      { label: 'empty JSON body', raw: { body: '', type: 'application/json' }, refuse: true },
      {
        label: '__proto__',
        raw: { body: `{"__proto__":{"admin":true},${baseJson.slice(1)}`, type: 'application/json' },
        refuse: true,
      },
      {
        label: 'constructor.prototype',
        json: { ...(base as object), constructor: { prototype: { admin: true } } },
      },
      {
        label: 'duplicate keys',
        raw: {
          body: `${baseJson.slice(0, -1)}${baseJson.length > 2 ? ',' : ''}${baseJson.slice(1)}`,
          type: 'application/json',
        },
      },
      { label: 'NUL in JSON text', raw: { body: '{"a":"\u0000"}', type: 'application/json' }, refuse: true },
      {
        label: 'invalid UTF-8',
        raw: {
          body: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]).toString('latin1'),
          type: 'application/json',
        },
        refuse: true,
      },
      { label: 'text/plain', raw: { body: baseJson, type: 'text/plain' } },
      { label: 'application/xml', raw: { body: '<a>1</a>', type: 'application/xml' }, refuse: true },
      {
        label: 'multipart',
        raw: {
          body: '--x\r\ncontent-disposition: form-data; name="a"\r\n\r\n1\r\n--x--',
          type: 'multipart/form-data; boundary=x',
        },
        refuse: true,
      },
      {
        label: 'form',
        raw: {
          body: new URLSearchParams(flatStrings(base)).toString(),
          type: 'application/x-www-form-urlencoded',
        },
      },
      { label: 'no content type', raw: { body: baseJson }, refuse: true },
      { label: 'JSON in UTF-16', raw: { body: baseJson, type: 'application/json; charset=utf-16' } },
      {
        label: 'content type junk',
        raw: { body: baseJson, type: 'application/json\u0001; x=' },
        refuse: true,
      },
    );
  } else {
    out.push({ label: 'body on a GET', raw: { body: '{"a":1}', type: 'application/json' } });
  }
  // Each query parameter spoiled in turn, the others plausible (so the request gets as far as it can).
  const plain = op.query.map((q) => [q.name, String(plausible(q.schema))] as const);
  for (const q of op.query) {
    const others = plain
      .filter(([n]) => n !== q.name)
      .map(([n, x]) => `&${n}=${encodeURIComponent(x)}`)
      .join('');
    const v = (x: string) => `${q.name}=${x}${others}`;
    out.push(
      { label: `query ${q.name}: NUL`, query: v('a%00b') },
      { label: `query ${q.name}: 10 KB`, query: v('q'.repeat(10_000)) },
      { label: `query ${q.name}: twice`, query: `${v('1')}&${v('2')}` },
      { label: `query ${q.name}: exponent`, query: v('1e3') },
      { label: `query ${q.name}: negative`, query: v('-1') },
      { label: `query ${q.name}: nested`, query: `${q.name}[a][b]=1` },
    );
  }
  out.push({ label: 'query: junk', query: '%zz&&=&a[b]=1&__proto__[x]=1&unknownParam=1' });
  for (const p of op.params) {
    for (const j of PARAM_JUNK)
      out.push({ label: `param ${p}: ${j.label}`, params: { [p]: j.value }, rawParams: true });
  }
  return out;
}

/** The base with its first field (or a field `a`) replaced by arrays nested `depth` deep. */
function withDeepField(base: unknown, depth: number): unknown {
  const obj = base !== null && typeof base === 'object' && !Array.isArray(base) ? (base as object) : {};
  const key = Object.keys(obj)[0] ?? 'a';
  return { ...obj, [key]: deepArray(depth) };
}

function flatStrings(v: unknown): Record<string, string> {
  if (v === null || typeof v !== 'object') return {};
  return Object.fromEntries(
    Object.entries(v).map(([k, x]) => [k, typeof x === 'string' ? x : JSON.stringify(x)]),
  );
}

/** One bad value put in one field of the body (or the field left out). */
export function fieldDrafts(op: Operation, base: unknown): Draft[] {
  if (!op.body) return [];
  const out: Draft[] = [];
  for (const f of fieldsOf(op.body)) {
    const where = f.path.join('.');
    if (f.required) out.push({ label: `${where}: missing`, json: setAt(base, f.path, REMOVE) });
    for (const bad of badValues(f.schema))
      out.push({ label: `${where}: ${bad.label}`, json: setAt(base, f.path, bad.value) });
  }
  return out;
}

/** Several field mutations and a header junk at once, as fast-check draws them. */
export function comboArbitrary(op: Operation, base: unknown): fc.Arbitrary<Draft> {
  const fields = op.body ? fieldsOf(op.body) : [];
  const mutation: fc.Arbitrary<{ path: readonly (string | number)[]; bad: Bad }> =
    fields.length === 0
      ? fc.constant({ path: ['extra'], bad: { label: 'extra', value: CONTROL } })
      : fc
          .constantFrom(...fields)
          .chain((f) =>
            fc
              .constantFrom(...badValues(f.schema), { label: 'missing', value: REMOVE })
              .map((bad) => ({ path: f.path, bad })),
          );
  return fc
    .record({
      mutations: fc.array(mutation, { minLength: 1, maxLength: 3 }),
      header: fc.option(fc.constantFrom(...HEADER_JUNK), { nil: undefined }),
      noise: fc.option(fc.string({ unit: 'binary', maxLength: 40 }), { nil: undefined }),
    })
    .map(({ mutations, header, noise }) => {
      let json: unknown = base ?? {};
      for (const m of mutations) json = setAt(json, m.path, m.bad.value);
      if (noise !== undefined && json !== null && typeof json === 'object' && !Array.isArray(json))
        json = { ...json, noise };
      return {
        label: `random: ${mutations.map((m) => `${m.path.join('.')} ${m.bad.label}`).join(', ')}${header ? `; ${header.label}` : ''}`,
        ...(op.body ? { json } : {}),
        ...(header ? { headers: header.headers } : {}),
      };
    });
}

/** The plausible body of an operation (what the mutations start from). */
export const baseBody = (op: Operation): unknown => (op.body ? plausible(op.body) : undefined);
