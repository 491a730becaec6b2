/**
 * Crash test (issue 18 §1): the bank, the broker, three vendors and three customers' wallets as real
 * `netpay` processes; the broker, a vendor or a wallet command is killed with SIGKILL at seeded points (at
 * least 50 per run across the three) and started again on the same data, and the run completes. Then the
 * money invariants I1–I4 hold, the ledger audit balances and each customer's money adds up
 * (packages/cli/test/crash/). The seed is printed; `SEED=… npx vitest run packages/cli/test/crash.test.ts`
 * runs the same workload and kill points again. The broker runs on the test PostgreSQL server (it starts
 * again in a few seconds there, which keeps the run near 90 s); `CRASH_BROKER=pglite` puts it on PGlite
 * in its folder, as the vendors are (twice as long here; `npm run soak -- crash` runs it so).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestPostgresDatabase, seedPgliteDataDir } from '@netpay/db/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { runCrash } from './crash/run.ts';

const SEED = process.env.SEED ? Number(process.env.SEED) : Math.floor(Math.random() * 2 ** 31);

describe('crashes: broker, vendors and wallets killed at seeded points', () => {
  const dir = mkdtempSync(join(tmpdir(), 'netpay-crash-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it(`loses no money and pays nothing twice over 50 kill points (SEED=${SEED})`, {
    timeout: 600_000,
  }, async () => {
    const pg = process.env.CRASH_BROKER === 'pglite' ? undefined : await createTestPostgresDatabase();
    const r = await runCrash({
      seed: SEED,
      ...(pg ? { brokerDatabaseUrl: pg.url } : {}),
      killPoints: 50,
      dir,
      // On a busy machine a restart takes many seconds: the kill points are reached later, not skipped.
      maxWorkloadMs: 400_000,
      seedPglite: seedPgliteDataDir,
      log: (line) => process.stderr.write(`${line}\n`),
    });
    await pg?.drop();
    process.stderr.write(`crash: SEED=${SEED} ${JSON.stringify(r)}\n`);
    expect(r.violations, `SEED=${SEED}`).toEqual([]);
    expect(r.killPoints).toBeGreaterThanOrEqual(50);
    expect(r.hangs).toBe(0);
    // The workload did pay, hand chains over and refund: receipts were issued and checked, not only refused.
    expect(r.figures.accepted).toBeGreaterThanOrEqual(5);
    expect(r.figures.handovers).toBeGreaterThan(0);
    expect(r.figures.refundedChains).toBeGreaterThan(0);
  });
});
