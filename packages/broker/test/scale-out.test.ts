/**
 * Two broker processes over one database (docs/operations.md §2) share nothing but it: a scheduled job
 * runs once per period however many processes tick, and the signing key is the same for all, a rotation
 * by one seen at once by the other. On PostgreSQL each "process" has its own connection pool; on PGlite
 * (one process only, by nature) the two share the database object but no service state.
 */
import { type Db, migrate, openDatabase } from '@netpay/db';
import {
  createTestPostgresDatabase,
  openTestDatabase,
  TEST_DATABASES,
  type TestDatabaseKind,
} from '@netpay/db/testing';
import { randomBytes } from '@netpay/protocol';
import { afterAll, describe, expect, it } from 'vitest';
import { parseBrokerConfig } from '../src/config.ts';
import { createJobService, JOB_LEASE_MS } from '../src/jobs/service.ts';
import { createKeyService } from '../src/keys/service.ts';
import { BROKER_MIGRATIONS } from '../src/migrations.ts';

/** Two handles on one fresh, migrated database, and how to close them. */
async function twoHandles(kind: TestDatabaseKind): Promise<{ a: Db; b: Db; close: () => Promise<void> }> {
  if (kind === 'pglite') {
    const db = await openTestDatabase('pglite');
    await migrate(db, BROKER_MIGRATIONS);
    return { a: db, b: db, close: () => db.close() };
  }
  const pg = await createTestPostgresDatabase();
  const a = await openDatabase({ url: pg.url, poolSize: 4 });
  const b = await openDatabase({ url: pg.url, poolSize: 4 });
  await migrate(a, BROKER_MIGRATIONS);
  return {
    a,
    b,
    close: async () => {
      await Promise.all([a.close(), b.close()]);
      await pg.drop();
    },
  };
}

for (const kind of TEST_DATABASES) {
  describe(`two broker processes over one database [${kind}]`, () => {
    const opened: (() => Promise<void>)[] = [];
    afterAll(async () => {
      await Promise.allSettled(opened.map((c) => c()));
    });
    const open = async () => {
      const h = await twoHandles(kind);
      opened.push(h.close);
      return h;
    };

    it('runs a scheduled job once per period across processes, and again after a dead holder’s lease', async () => {
      const { a, b } = await open();
      let now = Date.UTC(2026, 11, 8);
      const clock = () => now;
      const one = createJobService({ db: a, clock, random: randomBytes });
      const two = createJobService({ db: b, clock, random: randomBytes });
      let runs = 0;
      const job = async () => {
        runs++;
        await new Promise((r) => setTimeout(r, 20));
        return runs;
      };
      // Both tick at once, ten times within one period: one run.
      for (let tick = 0; tick < 10; tick++) {
        const results = await Promise.all([
          one.runOnce('settlement', 60_000, job),
          two.runOnce('settlement', 60_000, job),
        ]);
        expect(results.filter((r) => r.ran).length).toBeLessThanOrEqual(1);
        now += 1_000;
      }
      expect(runs).toBe(1);
      // A period later, one of them runs it again.
      now += 60_000;
      const next = await Promise.all([
        one.runOnce('settlement', 60_000, job),
        two.runOnce('settlement', 60_000, job),
      ]);
      expect(next.filter((r) => r.ran)).toHaveLength(1);
      expect(runs).toBe(2);
      // A job is not started while another process runs it, even when it is due again meanwhile.
      now += 120_000;
      let release!: () => void;
      const slow = one.runOnce('expiry', 1_000, () => new Promise<void>((r) => (release = r)));
      await expect.poll(() => release !== undefined).toBe(true);
      now += 5_000;
      expect((await two.runOnce('expiry', 1_000, async () => {})).ran).toBe(false);
      release();
      expect((await slow).ran).toBe(true);
      // A holder that dies mid-run (claimed, never released) blocks the job only until its lease is over.
      now += 5_000;
      const dead = createJobService({ db: a, clock, random: randomBytes });
      void dead.runOnce('reconcile', 1_000, () => new Promise(() => {}));
      await expect.poll(async () => (await two.list()).some((j) => j.name === 'reconcile')).toBe(true);
      now += 5_000;
      expect((await two.runOnce('reconcile', 1_000, async () => {})).ran).toBe(false);
      now += JOB_LEASE_MS;
      expect((await two.runOnce('reconcile', 1_000, async () => {})).ran).toBe(true);
    });

    it('gives both processes one signing key, and a rotation by one is used by the other at once', async () => {
      const { a, b } = await open();
      const config = parseBrokerConfig({});
      const one = createKeyService({ db: a, config, clock: Date.now, random: randomBytes });
      const two = createKeyService({ db: b, config, clock: Date.now, random: randomBytes });
      // Both start on an empty database at once: one key is made, both sign with it.
      const [k1, k2] = await Promise.all([one.currentKey(), two.currentKey()]);
      expect(k1.keyId).toBe(k2.keyId);
      expect((await one.list()).filter((k) => k.retiredAt === null)).toHaveLength(1);
      const rotated = await one.rotate();
      expect(rotated.keyId).not.toBe(k1.keyId);
      expect((await two.currentKey()).keyId).toBe(rotated.keyId);
      // Two rotations at once: both happen, and one key is current afterwards.
      await Promise.all([one.rotate(), two.rotate()]);
      const current = (await two.list()).filter((k) => k.retiredAt === null);
      expect(current).toHaveLength(1);
      expect((await one.currentKey()).keyId).toBe(current[0]!.keyId);
    });
  });
}
