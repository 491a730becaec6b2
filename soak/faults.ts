/**
 * Network faults, long run (issue 18 §2): many seeds of packages/gate/test/faults.ts — wallets, vendors, the
 * broker and the bank talking through fault proxies that drop, delay, duplicate, reorder and cut — each
 * checked for exactly-once afterwards. NETPAY_FAULT_SEEDS (default 100) seeds; NETPAY_FAULT_SCALE (default
 * 1, at most 2.5) multiplies the rate of every fault. The worlds need vitest's
 * set-up (the PGlite template), so this runs faults.test.ts under vitest and reads the totals it writes:
 * `{seeds, operations, faultsInjected: {drop, delay, duplicate, reorder, cut}, violations}`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export async function run(): Promise<Record<string, unknown>> {
  const seeds = Number(process.env.NETPAY_FAULT_SEEDS ?? 100);
  const dir = mkdtempSync(join(tmpdir(), 'netpay-faults-'));
  const report = join(dir, 'report.json');
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const started = Date.now();
  const r = spawnSync(
    'npx',
    ['vitest', 'run', '--project', 'store', 'packages/gate/test/faults.test.ts', '--reporter', 'dot'],
    {
      cwd: root,
      env: { ...process.env, NETPAY_FAULT_SEEDS: String(seeds), NETPAY_FAULT_REPORT: report },
      // Its progress (one line per seed) goes to stderr; vitest's own report too.
      stdio: ['ignore', process.stderr, process.stderr],
    },
  );
  try {
    const result = JSON.parse(readFileSync(report, 'utf8')) as Record<string, unknown>;
    return { ...result, seconds: Math.round((Date.now() - started) / 1000) };
  } catch {
    return { seeds, error: `the fault run ended (exit ${r.status}) without a report` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
