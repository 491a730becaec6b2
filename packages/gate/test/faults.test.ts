import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAULT_KINDS } from './fault-proxy.ts';
import { type FaultWorld, OP_KINDS, runSeed, type SeedResult, startFaultWorld } from './faults.ts';

/**
 * Network faults (issue 18 §2), a few fixed seeds: every link between the wallets, the vendors, the broker
 * and the bank drops, delays, duplicates, reorders and cuts requests and responses; every operation still
 * completes exactly once (faults.ts says what is checked). `npm run soak -- faults` runs many seeds.
 */
const SEEDS = [1, 2, 3];

/**
 * `npm run soak -- faults` (soak/faults.ts) runs this file with NETPAY_FAULT_SEEDS=N: seeds 1..N (a world
 * restarted every 25 seeds), a violation reported rather than failing, and the totals written as JSON to
 * NETPAY_FAULT_REPORT. The worlds need vitest's PGlite template, so the soak runs them here.
 */
const SOAK_SEEDS = Number(process.env.NETPAY_FAULT_SEEDS ?? 0);

describe.skipIf(SOAK_SEEDS > 0)('network faults [pglite]', () => {
  let fw: FaultWorld;
  const lines: string[] = [];
  beforeAll(async () => {
    fw = await startFaultWorld('pglite', (l) => lines.push(l));
  });
  afterAll(async () => {
    await fw?.close();
  });

  for (const seed of SEEDS) {
    it(`seed ${seed}: every operation completes exactly once`, { timeout: 60_000 }, async () => {
      lines.length = 0;
      const r = await runSeed(fw, seed);
      expect(r.violations, lines.join('\n')).toEqual([]);
      // The seed did meet faults, and the work was done.
      expect(Object.values(r.faultsInjected).reduce((s, n) => s + n, 0)).toBeGreaterThan(5);
      expect(r.operations.payment).toBeGreaterThan(0);
      expect(r.operations.refund).toBeGreaterThan(0);
      expect(r.operations.settlement).toBeGreaterThan(0);
    });
  }
});

describe.runIf(SOAK_SEEDS > 0)('network faults soak', () => {
  it(`${SOAK_SEEDS} seeds`, { timeout: 0 }, async () => {
    const results: SeedResult[] = [];
    let fw: FaultWorld | undefined;
    for (let seed = 1; seed <= SOAK_SEEDS; seed++) {
      if ((seed - 1) % 25 === 0) {
        await fw?.close();
        fw = await startFaultWorld('pglite');
      }
      const r = await runSeed(fw!, seed);
      results.push(r);
      process.stderr.write(`faults: seed ${seed}: ${r.violations.length} violations\n`);
      for (const v of r.violations) process.stderr.write(`  ${v}\n`);
    }
    await fw?.close();
    const sum = <K extends string>(keys: readonly K[], of: (r: SeedResult) => Record<K, number>) =>
      Object.fromEntries(keys.map((k) => [k, results.reduce((s, r) => s + of(r)[k], 0)]));
    const report = {
      seeds: results.length,
      operations: sum(OP_KINDS, (r) => r.operations),
      faultsInjected: sum(FAULT_KINDS, (r) => r.faultsInjected),
      violations: results.flatMap((r) => r.violations),
    };
    if (process.env.NETPAY_FAULT_REPORT)
      writeFileSync(process.env.NETPAY_FAULT_REPORT, JSON.stringify(report));
  });
});
