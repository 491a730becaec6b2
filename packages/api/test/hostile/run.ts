/**
 * The hostile-input run (issue 18 §3): walks every operation of each service's served /docs/json, sends
 * the drafts of cases.ts with each kind of credentials, and checks every answer: no 5xx, no hang, no dropped
 * connection; a request the contract calls malformed gets a 4xx whose code the service documents, with the
 * documented status; and nothing changed (each database's tables hashed before and after each operation,
 * the bank balances, and the broker's ledger audit at the end).
 */

import fc from 'fast-check';
import {
  type AuthVariant,
  baseBody,
  type Case,
  comboArbitrary,
  type Draft,
  fieldDrafts,
  fixedDrafts,
  type OpenApiDoc,
  type Operation,
  operationsFrom,
  opName,
  VARIANTS,
} from './cases.ts';
import { credentials, HEADER_JUNK, headerDrafts, realChainPayments } from './headers.ts';
import { sendRaw } from './http.ts';
import { toJson } from './schema.ts';
import type { Parties, ServiceName, Services } from './services.ts';
import { allowedChanges, diff, settled, snapshot } from './state.ts';
import { ANY_ROUTE, mustRefuse, parsedBody, refusalProblem } from './verdict.ts';

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
