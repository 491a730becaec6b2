import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, inject } from 'vitest';
import { type Db, openDatabase } from './index.ts';

/**
 * Test helpers: run store tests against both PGlite and a real PostgreSQL server, one fresh database per
 * call. The PostgreSQL server is started once per `vitest run` by tools/pg-global-setup.ts (or is
 * NETPAY_TEST_PG_URL), which provides its admin URL as `inject('pgAdminUrl')`. A PGlite database is a copy
 * of the run's empty cluster (tools/pglite-template.ts, `inject('pgliteTemplateDir')`) in a fresh folder,
 * as the servers keep it in production; without the template, one in memory.
 *
 *   describeEachDatabase('ledger store', (open) => {
 *     it('…', async () => { const db = await open(); … });   // closed after the block
 *   });
 */
declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
    pgliteTemplateDir: string;
  }
}

export type TestDatabaseKind = 'pglite' | 'postgres';

export const TEST_DATABASES: readonly TestDatabaseKind[] = ['pglite', 'postgres'];

/** Pool size of each test database: small, many files run at once against one server. */
const POOL_SIZE = 5;

let counter = 0;

/** The admin URL of the test PostgreSQL server, from the global setup. */
export function testServerUrl(): string {
  const url = inject('pgAdminUrl');
  if (!url) {
    throw new Error(
      "No test PostgreSQL server: inject('pgAdminUrl') is empty. Run tests through the repo's vitest.config.ts " +
        '(globalSetup tools/pg-global-setup.ts) or set NETPAY_TEST_PG_URL.',
    );
  }
  return url;
}

/**
 * Fills `dataDir` (when it is missing or empty) with a copy of the run's empty PGlite cluster
 * (tools/pglite-template.ts), so a bank, broker or vendor started on it skips PGlite's initdb (seconds of
 * CPU) and runs only its migrations. Without the template (another config) it does nothing: the server
 * then creates the cluster itself, as it does in production.
 */
export function seedPgliteDataDir(dataDir: string): void {
  const template = inject('pgliteTemplateDir');
  if (!template || (existsSync(dataDir) && readdirSync(dataDir).length > 0)) return;
  cpSync(template, dataDir, { recursive: true });
}

/** Folders for PGlite copies: tmpfs when there is one (a copy then costs no disk writes). */
const COPIES = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();

/** A new folder holding a copy of the empty cluster, or undefined without a template. */
function pgliteCopy(): string | undefined {
  if (!inject('pgliteTemplateDir')) return undefined;
  const dataDir = join(mkdtempSync(join(COPIES, 'netpay-pglite-')), 'data');
  seedPgliteDataDir(dataDir);
  return dataDir;
}

export interface TestPostgresDatabase {
  /** postgres://… of the new, empty database. */
  readonly url: string;
  /** Drops the database (closing any connection still open to it). */
  drop(): Promise<void>;
}

/** Creates a fresh, empty, uniquely named database on the test PostgreSQL server. */
export async function createTestPostgresDatabase(): Promise<TestPostgresDatabase> {
  const adminUrl = testServerUrl();
  const name = `netpay_test_${process.pid}_${++counter}_${randomBytes(4).toString('hex')}`;
  await admin(adminUrl, `CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  let dropped: Promise<void> | undefined;
  return {
    url: url.toString(),
    drop: () => {
      dropped ??= admin(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      return dropped;
    },
  };
}

/**
 * Opens a fresh database of the given kind: PGlite (its folder removed again by `close()`), or a new
 * database on the test PostgreSQL server (dropped again by `close()`). `close()` may be called more than once.
 */
export async function openTestDatabase(kind: TestDatabaseKind): Promise<Db> {
  if (kind === 'pglite') {
    const dataDir = pgliteCopy();
    if (!dataDir) return closeOnce(await openDatabase());
    const removeCopy = () => rm(dirname(dataDir), { recursive: true, force: true });
    try {
      return closeOnce(await openDatabase({ dataDir }), removeCopy);
    } catch (e) {
      await removeCopy();
      throw e;
    }
  }
  const created = await createTestPostgresDatabase();
  let db: Db;
  try {
    db = await openDatabase({ url: created.url, poolSize: POOL_SIZE });
  } catch (e) {
    await created.drop().catch(() => {});
    throw e;
  }
  return closeOnce(db, created.drop);
}

/**
 * Declares `describe(`${name} [${kind}]`)` once per kind in TEST_DATABASES. `fn` gets `open()`, which
 * opens a fresh database of that kind each call; every database it opened is closed after the block.
 */
export function describeEachDatabase(
  name: string,
  fn: (open: () => Promise<Db>, kind: TestDatabaseKind) => void,
): void {
  for (const kind of TEST_DATABASES) {
    describe(`${name} [${kind}]`, () => {
      const opened: Db[] = [];
      const open = async () => {
        const db = await openTestDatabase(kind);
        opened.push(db);
        return db;
      };
      afterAll(async () => {
        await Promise.allSettled(opened.splice(0).map((db) => db.close()));
      });
      fn(open, kind);
    });
  }
}

function closeOnce(db: Db, after?: () => Promise<void>): Db {
  let closed: Promise<void> | undefined;
  return {
    ...db,
    close: () => {
      closed ??= (async () => {
        await db.close();
        await after?.();
      })();
      return closed;
    },
  };
}

async function admin(adminUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  client.on('error', () => {});
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end().catch(() => {});
  }
}
