/**
 * The load run of issue 18 §5, short (`npm run soak -- load` is the long one): 16 wallets in two driver
 * processes pay 4 vendor processes for 8 s through two broker processes over one PostgreSQL (behind the
 * balancer). No request may fail, and the verdict must hold: every receipted coin credited (I1), no
 * double-spend evidence, every chain balanced, the ledger audit, settlement once per period. Timing is
 * reported, never asserted.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestPostgresDatabase, seedPgliteDataDir } from '@netpay/db/testing';
import { describe, expect, it } from 'vitest';
import { killAll } from './load/procs.ts';
import { runLoad } from './load/run.ts';

describe('load through two broker processes over one PostgreSQL', () => {
  it('pays without one error and balances every account', async () => {
    const pg = await createTestPostgresDatabase();
    const dir = mkdtempSync(join(tmpdir(), 'netpay-load-test-'));
    try {
      const report = await runLoad({
        dir,
        brokers: 2,
        vendors: 4,
        wallets: 16,
        walletsPerDriver: 8,
        seconds: 8,
        databaseUrl: pg.url,
        seedPglite: seedPgliteDataDir,
      });
      console.log(JSON.stringify({ load: report }));
      expect(report.errorsBy).toEqual({});
      expect(report.payments).toBeGreaterThan(0);
      expect(report.verdict, JSON.stringify(report.verdict)).toMatchObject({
        ok: true,
        audit: true,
        i1: true,
        doubleSpendEvidence: 0,
      });
      // Both brokers served the load.
      for (const n of report.spread.requests) expect(n).toBeGreaterThan(0);
    } finally {
      await killAll();
      rmSync(dir, { recursive: true, force: true });
      await pg.drop();
    }
  }, 300_000);
});
