/**
 * The hostile-input run's judgements: whether the contract calls a request malformed (so it must be
 * refused), and whether a refusal's status and code are documented by its service.
 */
import { PROTOCOL_ERROR_STATUS } from '@netpay/protocol';
import { SERVICE_ERROR_STATUS } from '@netpay/service';
import { BANK_ERROR_STATUS } from '../../../bank/src/errors.ts';
import { BROKER_ERROR_STATUS } from '../../../broker/src/errors.ts';
import { GATE_ERROR_STATUS } from '../../../gate/src/errors.ts';
import { vendorApi } from '../../src/vendor.ts';
import type { AuthVariant, Draft, Operation } from './cases.ts';
import { toJson } from './schema.ts';
import type { ServiceName } from './services.ts';

const DOCUMENTED: Record<ServiceName, Record<string, number>> = {
  broker: { ...SERVICE_ERROR_STATUS, ...BROKER_ERROR_STATUS },
  bank: { ...SERVICE_ERROR_STATUS, ...BANK_ERROR_STATUS },
  vendor: { ...SERVICE_ERROR_STATUS, ...GATE_ERROR_STATUS, forbidden: 403 },
  web: { ...SERVICE_ERROR_STATUS, ...GATE_ERROR_STATUS, not_found: 404, bad_answer: 502, forbidden: 403 },
};
const PROTOCOL_CODES = new Set(Object.keys(PROTOCOL_ERROR_STATUS));
/** What any route may answer besides its own errors: the service codes, credentials and rate limits. */
export const ANY_ROUTE = new Set([
  ...Object.keys(SERVICE_ERROR_STATUS),
  'json_too_deep',
  'invalid_characters',
  'unauthorized',
  'forbidden',
  'admin_disabled',
  'too_many_attempts',
]);

/** What is wrong with a refusal's status and code, if anything (undefined: a documented 4xx). */
export function refusalProblem(service: ServiceName, status: number, body: string): string | undefined {
  let code: unknown;
  // A browser that asks for text/html gets the terms as a page (protocol.md §7.2).
  if (status === 402 && body.startsWith('<!doctype html>')) return undefined;
  try {
    code = (JSON.parse(body) as { code?: unknown }).code;
  } catch {
    return `${status} without a JSON error body: ${body.slice(0, 120)}`;
  }
  // A 402 is the terms; its code says what was wrong with the payment, when anything was.
  if (status === 402 && code === undefined) return undefined;
  if (typeof code !== 'string') return `${status} without a code`;
  if (service === 'broker' && PROTOCOL_CODES.has(code)) return undefined;
  const documented = DOCUMENTED[service][code];
  if (documented === undefined) return `undocumented code ${code} (${status})`;
  if (documented !== status) return `code ${code} with status ${status}, documented ${documented}`;
  return undefined;
}

/** Fastify's query parsing, near enough: repeated names become arrays. */
function queryObject(query: string | undefined): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of new URLSearchParams(query ?? '')) {
    const prior = out[k];
    out[k] = prior === undefined ? v : [...(Array.isArray(prior) ? prior : [prior]), v];
  }
  return out;
}

/** The body as the service parses it, or `undefined` when it cannot parse it (so refuses it). */
export function parsedBody(op: Operation, d: Draft): { ok: boolean; value?: unknown } {
  if (d.json !== undefined) {
    try {
      return { ok: true, value: JSON.parse(toJson(d.json)) };
    } catch {
      return { ok: false };
    }
  }
  if (!d.raw) return { ok: true, value: undefined };
  const type = d.raw.type ?? '';
  if (type === 'text/plain') return { ok: true, value: d.raw.body };
  if (type === 'application/x-www-form-urlencoded' && op.service === 'broker')
    return { ok: true, value: Object.fromEntries(new URLSearchParams(d.raw.body)) };
  if (type.startsWith('application/json')) {
    try {
      return { ok: true, value: JSON.parse(d.raw.body.replace(/^\ufeff/, '')) };
    } catch {
      return { ok: false };
    }
  }
  return { ok: false };
}

/** A C0 control but tab, LF and CR, DEL, or an unpaired surrogate: what every service refuses in a string. */
function forbiddenChars(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 0x20 && c !== 9 && c !== 10 && c !== 13) || c === 0x7f) return true;
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return true;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) return true;
  }
  return false;
}

/** Whether a parsed body holds a forbidden character in any key or string. */
const stringsForbidden = (v: unknown, depth = 0): boolean =>
  typeof v === 'string'
    ? forbiddenChars(v)
    : depth < 100 &&
      v !== null &&
      typeof v === 'object' &&
      Object.entries(v).some(([k, x]) => forbiddenChars(k) || stringsForbidden(x, depth + 1));

const hasNonFinite = (v: unknown, depth = 0): boolean =>
  typeof v === 'number'
    ? !Number.isFinite(v)
    : depth < 100 &&
      v !== null &&
      typeof v === 'object' &&
      Object.values(v).some((x) => hasNonFinite(x, depth + 1));

const NEEDS_CREDENTIALS = new Set(['customer', 'party', 'admin', 'account']);

/** Whether the contract calls this request malformed (or its credentials wrong), so it must get a 4xx. */
export function mustRefuse(
  op: Operation,
  d: Draft,
  variant: AuthVariant,
  params: Record<string, string>,
): boolean {
  if (NEEDS_CREDENTIALS.has(op.auth) && variant !== 'own') return true;
  if (d.refuse) return true;
  const body = parsedBody(op, d);
  if (!body.ok) return true;
  const query = [...new URLSearchParams(d.query ?? '')].flat();
  if ([...Object.values(params), ...query].some(forbiddenChars) || stringsForbidden(body.value)) return true;
  // A number past the double range (1e400: Infinity) cannot be hashed for a key or a signature.
  if ((op.contract?.key || op.auth === 'party') && hasNonFinite(body.value)) return true;
  if (op.service === 'vendor') return op.path === '/{*}' || op.contract === vendorApi.handover;
  const r = op.contract;
  if (!r) return false;
  if (r.params && !r.params.safeParse(params).success) return true;
  if (r.query && !r.query.safeParse(queryObject(d.query)).success) return true;
  if (r.body && !r.body.safeParse(body.value).success) return true;
  return false;
}
