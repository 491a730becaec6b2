/**
 * Hostile input, driven by the API contract (issue 18 §3): every operation in the OpenAPI documents the
 * bank, the broker, a vendor server and the web server serve at /docs/json (and each contract route hidden
 * from them, the broker's sign-in page) gets malformed requests
 * (hostile/cases.ts), with no credentials, garbage ones and another party's valid ones. Each must be
 * answered without a 5xx, a hang or a dropped connection; a malformed one with a 4xx whose code the
 * service documents; and nothing may change (tables hashed around each operation, bank balances, the
 * ledger audit). A fixed seed keeps it bounded and repeatable; `npm run soak -- fuzz` runs it longer.
 */
import { seedPgliteDataDir } from '@netpay/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FuzzReport, runFuzz } from './hostile/run.ts';
import { type Services, startServices } from './hostile/services.ts';

describe('hostile input against the four services [pglite]', () => {
  let s: Services;
  let report: FuzzReport;
  beforeAll(async () => {
    s = await startServices({ seed: seedPgliteDataDir });
    report = await runFuzz(s, {
      seed: 20261218,
      fieldsPerOp: 12,
      headersPerOp: 4,
      randomPerOp: 5,
      allVariants: true,
      concurrency: 4,
    });
    process.stderr.write(
      `hostile input: ${JSON.stringify({ requests: report.requests, fiveXx: report.fiveXx, byService: report.byService })}\n`,
    );
  }, 240_000);
  afterAll(async () => {
    await s?.close();
  });

  it('generates cases for every operation each service documents', () => {
    expect(report.uncovered).toEqual([]);
    for (const service of ['broker', 'bank', 'vendor', 'web']) {
      expect(report.byService[service]?.operations, service).toBeGreaterThan(0);
      expect(report.byService[service]?.requests, service).toBeGreaterThan(10);
    }
  });

  it('answers every request without a 5xx, a hang or a dropped connection', () => {
    const broken = report.findings.filter((f) => /^5\d\d |no answer|connection closed/.test(f.problem));
    expect(broken, JSON.stringify(s.logged.slice(0, 5))).toEqual([]);
    expect(s.logged).toEqual([]);
  });

  it('refuses every malformed request with a documented 4xx code and status', () => {
    const wrong = report.findings.filter(
      (f) => f.variant !== 'state' && !/^5\d\d |no answer|connection closed/.test(f.problem),
    );
    expect(wrong).toEqual([]);
  });

  it('changes nothing: no table, no bank balance, and the ledger audit balances', () => {
    expect(report.findings.filter((f) => f.variant === 'state')).toEqual([]);
  });
});
