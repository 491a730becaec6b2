/**
 * `npm run soak -- crash`: the crash run of issue 18 §1 (packages/cli/test/crash/) over several seeds, with
 * more kill points than the test's. Settings: CRASH_RUNS (default 3), CRASH_KILL_POINTS per run (default
 * 120), SEED (the first run's seed; the others follow it), CRASH_CUSTOMERS, CRASH_VENDORS, and
 * CRASH_DATABASE_URL (an empty PostgreSQL database for the broker instead of PGlite; one run only, as
 * nothing empties it between runs: CRASH_RUNS=1). A failing run's seed is printed;
 * `SEED=… CRASH_RUNS=1 npm run soak -- crash` runs it again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCrash } from '../packages/cli/test/crash/run.ts';

const num = (name: string, fallback: number) => {
  const v = process.env[name];
  return v === undefined || v === '' ? fallback : Number(v);
};

export async function run(): Promise<Record<string, unknown>> {
  const runs = num('CRASH_RUNS', 3);
  const killPoints = num('CRASH_KILL_POINTS', 120);
  const first = num('SEED', Math.floor(Math.random() * 2 ** 31));
  const started = Date.now();
  const byKind = { broker: 0, vendor: 0, wallet: 0 };
  const violations: { seed: number; violation: string }[] = [];
  const perRun = [];
  let total = 0;
  for (let k = 0; k < runs; k++) {
    const seed = (first + k) >>> 0;
    process.stderr.write(`crash: run ${k + 1}/${runs}, SEED=${seed}\n`);
    const dir = mkdtempSync(join(tmpdir(), 'netpay-crash-'));
    try {
      const r = await runCrash({
        seed,
        killPoints,
        dir,
        // Restarts take seconds each, many more on a busy machine.
        maxWorkloadMs: killPoints * 5_000,
        customers: num('CRASH_CUSTOMERS', 3),
        vendors: num('CRASH_VENDORS', 3),
        ...(process.env.CRASH_DATABASE_URL ? { brokerDatabaseUrl: process.env.CRASH_DATABASE_URL } : {}),
        log: (line) => process.stderr.write(`${line}\n`),
      });
      total += r.killPoints;
      for (const kind of ['broker', 'vendor', 'wallet'] as const) byKind[kind] += r.byKind[kind];
      for (const violation of r.violations) violations.push({ seed, violation });
      perRun.push({
        seed,
        killPoints: r.killPoints,
        byKind: r.byKind,
        operations: r.operations,
        figures: r.figures,
        failures: r.failures,
        ms: r.ms,
      });
      process.stderr.write(`crash: SEED=${seed}: ${JSON.stringify(r)}\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return { runs, killPoints: total, byKind, violations, ms: Date.now() - started, perRun };
}
