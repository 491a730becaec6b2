/**
 * The hostile-input run (issue 18 §3): walks every operation of each service's served /docs/json, sends
 * the drafts of cases.ts with each kind of credentials, and checks every answer: no 5xx, no hang, no dropped
 * connection; a request the contract calls malformed gets a 4xx whose code the service documents, with the
 * documented status; and nothing changed (each database's tables hashed before and after each operation,
 * the bank balances, and the broker's ledger audit at the end).
 */

import type { Db } from '@netpay/db';
import { PROTOCOL_ERROR_STATUS } from '@netpay/protocol';
import { SERVICE_ERROR_STATUS } from '@netpay/service';
import fc from 'fast-check';
import { BANK_ERROR_STATUS } from '../../../bank/src/errors.ts';
import { BROKER_ERROR_STATUS } from '../../../broker/src/errors.ts';
import { GATE_ERROR_STATUS } from '../../../gate/src/errors.ts';
import { vendorApi } from '../../src/vendor.ts';
import {
  type AuthVariant,
  baseBody,
  type Case,
  comboArbitrary,
  credentials,
  type Draft,
  fieldDrafts,
  fixedDrafts,
  HEADER_JUNK,
  headerDrafts,
  type OpenApiDoc,
  type Operation,
  operationsFrom,
  opName,
  realChainPayments,
  VARIANTS,
} from './cases.ts';
import { sendRaw } from './http.ts';
import { toJson } from './schema.ts';
import type { Parties, ServiceName, Services } from './services.ts';

export interface FuzzOptions {
  readonly seed: number;
  /** Field drafts per operation, drawn by fast-check from all of them (Infinity: every one). */
  readonly fieldsPerOp: number;
  /** Header junk drafts per operation (all of them on a vendor's routes, where payments go). */
  readonly headersPerOp: number;
  /** Random combinations per operation. */
  readonly randomPerOp: number;
  /** Send every draft with every credential variant (else each draft with one, in turn). */
  readonly allVariants: boolean;
  readonly timeoutMs?: number;
  readonly concurrency?: number;
  readonly log?: (line: string) => void;
}

export interface Finding {
  readonly service: ServiceName;
  readonly op: string;
  readonly label: string;
  readonly variant: AuthVariant | 'state';
  readonly problem: string;
}

export interface FuzzReport {
  readonly seed: number;
  requests: number;
  fiveXx: number;
  byService: Record<string, { requests: number; fiveXx: number; operations: number }>;
  /** Answers by status class and code, for the record. */
  readonly codes: Record<string, number>;
  readonly findings: Finding[];
  /**
   * Codes answered by an operation that its contract does not list among its errors and that are not among
   * those any route may answer (the service's own, credentials, limits): for the record, not a failure.
   */
  readonly undeclared: Record<string, number>;
  /** Operations of a served document for which no case was generated (must be none). */
  readonly uncovered: string[];
}

const DOCUMENTED: Record<ServiceName, Record<string, number>> = {
  broker: { ...SERVICE_ERROR_STATUS, ...BROKER_ERROR_STATUS },
  bank: { ...SERVICE_ERROR_STATUS, ...BANK_ERROR_STATUS },
  vendor: { ...SERVICE_ERROR_STATUS, ...GATE_ERROR_STATUS, forbidden: 403 },
  web: { ...SERVICE_ERROR_STATUS, ...GATE_ERROR_STATUS, not_found: 404, bad_answer: 502, forbidden: 403 },
};
const PROTOCOL_CODES = new Set(Object.keys(PROTOCOL_ERROR_STATUS));
/** What any route may answer besides its own errors: the service codes, credentials and rate limits. */
const ANY_ROUTE = new Set([
  ...Object.keys(SERVICE_ERROR_STATUS),
  'json_too_deep',
  'invalid_characters',
  'unauthorized',
  'forbidden',
  'admin_disabled',
  'too_many_attempts',
]);

/** What is wrong with a refusal's status and code, if anything (undefined: a documented 4xx). */
function refusalProblem(service: ServiceName, status: number, body: string): string | undefined {
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

/** Each table of a database as a count and a hash of its rows, to see that nothing changed. */
async function tableHashes(db: Db): Promise<Record<string, string>> {
  const tables = await db.query<{ t: string }>(
    "SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1",
  );
  const out: Record<string, string> = {};
  for (const { t } of tables) {
    const [row] = await db.query<{ n: string; h: string | null }>(
      `SELECT count(*)::text AS n, md5(string_agg(x::text, '|' ORDER BY x::text)) AS h FROM "${t}" x`,
    );
    out[t] = `${row?.n}:${row?.h ?? ''}`;
  }
  return out;
}

/**
 * Tables that count attempts on purpose (docs/broker.md §4): a sign-in with a wrong password is counted
 * before the password is checked, and a wrong bearer token by its address. Not state a refusal must leave
 * alone.
 */
const ATTEMPT_COUNTERS = new Set(['broker.login_failures', 'broker.token_failures']);

async function snapshot(s: Services): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [name, db] of [
    ['broker', s.brokerDb],
    ['vendor', s.vendorDb],
  ] as const) {
    for (const [t, h] of Object.entries(await tableHashes(db))) {
      if (!ATTEMPT_COUNTERS.has(`${name}.${t}`)) out[`${name}.${t}`] = h;
    }
  }
  for (const [account, token] of [
    [s.parties.bankAccount, s.parties.bankToken],
    [s.parties.otherBankAccount, s.parties.otherBankToken],
  ] as const) {
    const st = await s.bankClient.statement(token, account, { limit: 200 });
    out[`bank.${account}`] = JSON.stringify(st.entries.map((e) => [String(e.seq), String(e.amount)]));
  }
  return out;
}

/**
 * What a refused payment may change: one that names a real chain makes the vendor claim the chain at the
 * broker (it gets the touchstone, which it needs to check the payword, with the claim: protocol.md §7), so
 * the chain may move to the vendor though the payment is refused. No money moves.
 */
const PAYMENT_CLAIMS = [
  'broker.chains',
  'broker.chain_holdings',
  'broker.idempotency_keys',
  'vendor.vendor_chains',
];
const allowedChanges = (op: Operation) =>
  op.service === 'vendor' && op.path === '/{*}' ? PAYMENT_CLAIMS : [];

/**
 * The state once writes an operation started have landed (a vendor writes accepted chains behind its
 * answers): snapshots until two in a row agree, so they are not taken for the next operation's.
 */
async function settled(s: Services): Promise<Record<string, string>> {
  let last = await snapshot(s);
  for (let i = 0; i < 10; i++) {
    await new Promise((r) => setTimeout(r, 200));
    const next = await snapshot(s);
    if (diff(last, next).length === 0) return next;
    last = next;
  }
  return last;
}

const diff = (a: Record<string, string>, b: Record<string, string>) =>
  [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => a[k] !== b[k]);

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
function parsedBody(op: Operation, d: Draft): { ok: boolean; value?: unknown } {
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
function mustRefuse(op: Operation, d: Draft, variant: AuthVariant, params: Record<string, string>): boolean {
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

let keyCounter = 0;

/** The drafts of an operation as cases: path, query, body, content type, a fresh key, credentials. */
function toCases(
  op: Operation,
  drafts: Draft[],
  parties: Parties,
  known: Record<string, string>,
  o: FuzzOptions,
): Case[] {
  const out: Case[] = [];
  drafts.forEach((d, i) => {
    const params = Object.fromEntries(op.params.map((p) => [p, d.params?.[p] ?? known[p] ?? 'x']));
    const path = op.path.replace(/\{([^}]+)\}/g, (_, p: string) =>
      d.rawParams && d.params?.[p] !== undefined ? d.params[p]! : encodeURIComponent(params[p]!),
    );
    const target = d.query !== undefined ? `${path}?${d.query}` : path;
    const bodyText = d.json !== undefined ? toJson(d.json) : d.raw?.body;
    const type = d.json !== undefined ? 'application/json' : d.raw?.type;
    const parsed = parsedBody(op, d);
    const decoded = Object.fromEntries(
      Object.entries(params).map(([k, v]) => {
        try {
          return [k, d.rawParams ? decodeURIComponent(v) : v];
        } catch {
          return [k, v];
        }
      }),
    );
    const variants = o.allVariants ? VARIANTS : [VARIANTS[(i + keyCounter) % VARIANTS.length]!];
    for (const variant of variants) {
      const refuse = mustRefuse(op, d, variant, decoded);
      // A request the contract allows, sent with the right credentials, would do what it asks: only GETs.
      if (!refuse && op.method !== 'GET') continue;
      const auth = credentials(op, variant, parties, {
        method: op.method,
        path: target,
        body: parsed.ok ? (parsed.value ?? null) : null,
      });
      if (!auth) continue;
      const headers: Record<string, string> = {
        ...(type ? { 'content-type': type } : {}),
        ...(op.method !== 'GET' ? { 'idempotency-key': `hostile-${o.seed}-${++keyCounter}` } : {}),
        ...auth,
        ...d.headers,
      };
      out.push({
        op,
        label: d.label,
        variant,
        mustRefuse: refuse,
        request: {
          method: op.method,
          target,
          headers,
          ...(bodyText !== undefined ? { body: Buffer.from(bodyText, d.raw ? 'latin1' : 'utf8') } : {}),
        },
      });
    }
  });
  return out;
}

/** Every draft of one operation: the catalogue, field drafts and random combinations drawn from the seed. */
function draftsOf(op: Operation, o: FuzzOptions, opIndex: number, parties: Parties): Draft[] {
  const base = baseBody(op);
  const fields = fieldDrafts(op, base);
  const seed = o.seed + opIndex;
  const picked =
    fields.length <= o.fieldsPerOp
      ? fields
      : fc.sample(fc.constantFrom(...fields), { seed, numRuns: o.fieldsPerOp });
  const random = op.body
    ? fc.sample(comboArbitrary(op, base), { seed: seed + 1, numRuns: o.randomPerOp })
    : [];
  const junk = [...HEADER_JUNK, ...realChainPayments(parties.chainId)];
  const every = op.service === 'vendor';
  const headers = headerDrafts(
    junk,
    every ? junk.length : o.headersPerOp,
    Number.isFinite(o.headersPerOp) ? opIndex * o.headersPerOp : 0,
  );
  return [...fixedDrafts(op, base), ...headers, ...picked, ...random];
}

/** Runs `fn` over `items`, `n` at a time. */
async function pool<T>(items: T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

/** Sends every case of every operation of the four services and reports what it found. */
export async function runFuzz(s: Services, o: FuzzOptions): Promise<FuzzReport> {
  const report: FuzzReport = {
    undeclared: {},
    seed: o.seed,
    requests: 0,
    fiveXx: 0,
    byService: {},
    codes: {},
    findings: [],
    uncovered: [],
  };
  const known: Record<string, string> = {
    chainId: s.parties.chainId,
    id: s.parties.bankAccount,
    vendorId: s.parties.vendor.id,
    deviceId: 'dev_unknown',
    chargeId: 'charge-0123456789abcdef',
    fileId: 'A'.repeat(43),
    route: 'signin',
    '*': 'paper.pdf',
  };
  let opIndex = 0;
  for (const service of ['broker', 'bank', 'vendor', 'web'] as const) {
    const doc = (await (await fetch(`${s.urls[service]}/docs/json`)).json()) as OpenApiDoc;
    const ops = operationsFrom(service, doc);
    const stats = { requests: 0, fiveXx: 0, operations: ops.length };
    report.byService[service] = stats;
    for (const op of ops) {
      const cases = toCases(op, draftsOf(op, o, opIndex++, s.parties), s.parties, known, o);
      if (cases.length === 0) report.uncovered.push(`${service} ${opName(op)}`);
      const before = await snapshot(s);
      await pool(cases, o.concurrency ?? 4, async (c) => {
        const found = await check(s, c, o.timeoutMs ?? 15_000, report);
        stats.requests++;
        report.requests++;
        if (found?.startsWith('5')) {
          stats.fiveXx++;
          report.fiveXx++;
        }
        if (found)
          report.findings.push({
            service,
            op: opName(op),
            label: c.label,
            variant: c.variant,
            problem: found,
          });
      });
      const after = allowedChanges(op).length > 0 ? await settled(s) : await snapshot(s);
      const changed = diff(before, after).filter((t) => !allowedChanges(op).includes(t));
      if (changed.length > 0)
        report.findings.push({
          service,
          op: opName(op),
          label: 'after all its cases',
          variant: 'state',
          problem: `changed: ${changed.join(', ')}`,
        });
      o.log?.(`${service} ${opName(op)}: ${cases.length} requests`);
    }
  }
  const audit = await fetch(`${s.urls.broker}/admin/audit`, {
    headers: { authorization: `Bearer ${s.parties.adminToken}` },
  });
  const verdict = (await audit.json()) as { ok?: boolean };
  if (!verdict.ok)
    report.findings.push({
      service: 'broker',
      op: 'GET /admin/audit',
      label: 'ledger audit',
      variant: 'state',
      problem: JSON.stringify(verdict),
    });
  return report;
}

/** Sends one case; returns what is wrong with its answer (a status first when it is a 5xx), if anything. */
async function check(
  s: Services,
  c: Case,
  timeoutMs: number,
  report: FuzzReport,
): Promise<string | undefined> {
  const a = await sendRaw(s.urls[c.op.service], c.request, timeoutMs);
  if (a.kind === 'timeout') return `no answer within ${timeoutMs} ms`;
  if (a.kind === 'closed') return `connection closed without an answer: ${a.error}`;
  let code = '';
  try {
    code = String((JSON.parse(a.body) as { code?: unknown }).code ?? '');
  } catch {}
  const key = `${a.status} ${code}`.trim();
  report.codes[key] = (report.codes[key] ?? 0) + 1;
  if (code && c.op.contract && !ANY_ROUTE.has(code) && !c.op.contract.errors?.includes(code)) {
    const where = `${c.op.service} ${opName(c.op)}: ${key}`;
    report.undeclared[where] = (report.undeclared[where] ?? 0) + 1;
  }
  if (a.status >= 500) return `${a.status} ${a.body.slice(0, 200)}`;
  if (a.status >= 400) return refusalProblem(c.op.service, a.status, a.body);
  if (c.mustRefuse) return `${a.status} for a malformed request`;
  return undefined;
}
