import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Db, isUniqueViolation, type Migration, migrate, openDatabase, sqlMigrations } from './index.ts';
import { createTestPostgresDatabase, describeEachDatabase, type TestPostgresDatabase } from './testing.ts';

const migrations: Migration[] = [
  { id: '20261126_0002_entries', sql: 'CREATE TABLE entries (id int8 PRIMARY KEY, account text NOT NULL)' },
  { id: '20261126_0001_accounts', sql: 'CREATE TABLE accounts (id text PRIMARY KEY, balance int8 NOT NULL)' },
];

const suite = (open: () => Promise<Db>, kind: 'pglite' | 'postgres') => {
  // One database for the tests that use their own tables (a fresh PGlite costs seconds); migrations get theirs.
  let db: Db;
  beforeAll(async () => {
    db = await open();
  });

  it('opens the requested kind', () => {
    expect(db.kind).toBe(kind);
  });

  it('returns int8 as bigint, beyond 2^53 too', async () => {
    await db.exec('CREATE TABLE n (id int PRIMARY KEY, v int8, i int4)');
    const big = 2n ** 53n + 1n;
    await db.query('INSERT INTO n (id, v, i) VALUES ($1, $2, $3), ($4, $5, $6), ($7, $8, $9)', [
      1,
      big,
      7,
      2,
      9223372036854775807n,
      -1,
      3,
      -9223372036854775808n,
      0,
    ]);
    const rows = await db.query<{ id: number; v: bigint; i: number }>('SELECT id, v, i FROM n ORDER BY id');
    expect(rows).toEqual([
      { id: 1, v: big, i: 7 },
      { id: 2, v: 9223372036854775807n, i: -1 },
      { id: 3, v: -9223372036854775808n, i: 0 },
    ]);
    expect(typeof rows[0]!.v).toBe('bigint');
    const [agg] = await db.query<{ c: bigint; s: string }>('SELECT count(*) AS c, sum(v)::text AS s FROM n');
    expect(agg).toEqual({ c: 3n, s: String(big - 1n) });
    const [lit] = await db.query<{ v: bigint }>('SELECT 9007199254740993::int8 AS v');
    expect(lit!.v).toBe(9007199254740993n);
  });

  it('round-trips jsonb', async () => {
    await db.exec('CREATE TABLE docs (id int PRIMARY KEY, body jsonb NOT NULL)');
    const body = {
      s: 'héllo “wörld” 🚀',
      n: 1.5,
      neg: -42,
      t: true,
      f: false,
      z: null,
      list: [1, 'two', { three: 3 }, []],
      nested: { a: { b: { c: 'deep' } } },
    };
    await db.query('INSERT INTO docs (id, body) VALUES ($1, $2)', [1, body]);
    // Top-level arrays: send JSON text (pg would send a JS array as a PostgreSQL array literal).
    await db.query('INSERT INTO docs (id, body) VALUES ($1, $2::text::jsonb)', [
      2,
      JSON.stringify([1, { x: 'y' }]),
    ]);
    const rows = await db.query<{ id: number; body: unknown }>('SELECT id, body FROM docs ORDER BY id');
    expect(rows).toEqual([
      { id: 1, body },
      { id: 2, body: [1, { x: 'y' }] },
    ]);
    const [q] = await db.query<{ c: string }>(
      "SELECT body->'nested'->'a'->'b'->>'c' AS c FROM docs WHERE id = 1",
    );
    expect(q!.c).toBe('deep');
  });

  it('returns bytea as Uint8Array', async () => {
    await db.exec('CREATE TABLE blobs (id int PRIMARY KEY, data bytea NOT NULL)');
    const bytes = new Uint8Array(256).map((_, i) => i);
    await db.query('INSERT INTO blobs (id, data) VALUES ($1, $2), ($3, $4)', [
      1,
      bytes,
      2,
      new Uint8Array(0),
    ]);
    const rows = await db.query<{ id: number; data: Uint8Array }>('SELECT id, data FROM blobs ORDER BY id');
    expect(rows[0]!.data).toBeInstanceOf(Uint8Array);
    expect(Array.from(rows[0]!.data)).toEqual(Array.from(bytes));
    expect(rows[1]!.data).toBeInstanceOf(Uint8Array);
    expect(rows[1]!.data.length).toBe(0);
    const [len] = await db.query<{ n: number }>('SELECT length(data) AS n FROM blobs WHERE id = 1');
    expect(len!.n).toBe(256);
  });

  it('detects unique violations', async () => {
    await db.exec('CREATE TABLE keys (k text PRIMARY KEY, other text UNIQUE)');
    await db.query("INSERT INTO keys (k, other) VALUES ('a', 'x')");
    const dupKey = await db.query("INSERT INTO keys (k, other) VALUES ('a', 'y')").then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isUniqueViolation(dupKey)).toBe(true);
    const dupOther = await db.query("INSERT INTO keys (k, other) VALUES ('b', 'x')").catch((e: unknown) => e);
    expect(isUniqueViolation(dupOther)).toBe(true);
    const notNull = await db.query('INSERT INTO keys (k) VALUES (NULL)').catch((e: unknown) => e);
    expect(notNull).toBeInstanceOf(Error);
    expect(isUniqueViolation(notNull)).toBe(false);
    expect(isUniqueViolation(new Error('x'))).toBe(false);
    expect(isUniqueViolation(undefined)).toBe(false);
    expect(isUniqueViolation(null)).toBe(false);
  });

  it('commits a transaction and rolls it back on throw', async () => {
    await db.exec('CREATE TABLE tx_rows (id int PRIMARY KEY)');
    const result = await db.transaction(async (tx) => {
      await tx.query('INSERT INTO tx_rows (id) VALUES (1)');
      const rows = await tx.query<{ id: number }>('SELECT id FROM tx_rows');
      return rows.length;
    });
    expect(result).toBe(1);
    const boom = new Error('boom');
    await expect(
      db.transaction(async (tx) => {
        await tx.query('INSERT INTO tx_rows (id) VALUES (2)');
        await tx.exec('INSERT INTO tx_rows (id) VALUES (3); INSERT INTO tx_rows (id) VALUES (4)');
        throw boom;
      }),
    ).rejects.toBe(boom);
    // A failing statement inside also rolls back everything before it.
    await expect(
      db.transaction(async (tx) => {
        await tx.query('INSERT INTO tx_rows (id) VALUES (5)');
        await tx.query('INSERT INTO tx_rows (id) VALUES (1)');
      }),
    ).rejects.toSatisfy(isUniqueViolation);
    expect(await db.query('SELECT id FROM tx_rows ORDER BY id')).toEqual([{ id: 1 }]);
    // The handle still works after rollbacks.
    await db.transaction((tx) => tx.query('INSERT INTO tx_rows (id) VALUES (6)'));
    expect(await db.query('SELECT id FROM tx_rows ORDER BY id')).toEqual([{ id: 1 }, { id: 6 }]);
  });

  it('migrates once, in id order, and is idempotent', async () => {
    const fresh = await open();
    expect(await migrate(fresh, migrations)).toEqual(['20261126_0001_accounts', '20261126_0002_entries']);
    expect(await migrate(fresh, migrations)).toEqual([]);
    const more = [
      ...migrations,
      { id: '20261127_0001_index', sql: 'CREATE INDEX entries_account ON entries (account)' },
    ];
    expect(await migrate(fresh, more)).toEqual(['20261127_0001_index']);
    expect(await migrate(fresh, more)).toEqual([]);
    const ids = await fresh.query<{ id: string; applied_at: bigint }>(
      'SELECT id, applied_at FROM schema_migrations ORDER BY id',
    );
    expect(ids.map((r) => r.id)).toEqual([
      '20261126_0001_accounts',
      '20261126_0002_entries',
      '20261127_0001_index',
    ]);
    expect(typeof ids[0]!.applied_at).toBe('bigint');
    await fresh.query('INSERT INTO accounts (id, balance) VALUES ($1, $2)', ['a', 5n]);
  });

  it('rejects duplicate migration ids and rolls back a failing migration', async () => {
    const fresh = await open();
    await expect(migrate(fresh, [migrations[0]!, migrations[0]!])).rejects.toThrow('duplicate migration id');
    const bad: Migration = {
      id: '20261126_0003_bad',
      sql: 'CREATE TABLE half (id int); SELECT no_such_column FROM half',
    };
    await expect(migrate(fresh, [...migrations, bad])).rejects.toThrow();
    const applied = await fresh.query<{ id: string }>('SELECT id FROM schema_migrations ORDER BY id');
    expect(applied.map((r) => r.id)).toEqual(['20261126_0001_accounts', '20261126_0002_entries']);
    expect(await fresh.query("SELECT 1 FROM pg_tables WHERE tablename = 'half'")).toEqual([]);
  });

  it('serialises read-modify-write with SELECT … FOR UPDATE', async () => {
    await db.exec(
      'CREATE TABLE counter (id int PRIMARY KEY, n int8 NOT NULL); INSERT INTO counter VALUES (1, 0)',
    );
    await Promise.all(Array.from({ length: 30 }, () => increment(db)));
    expect(await db.query('SELECT n FROM counter WHERE id = 1')).toEqual([{ n: 30n }]);
  });
};

describeEachDatabase('db', suite);

describe.each([false, true])('db [pglite, on a thread: %s]', (thread) => {
  it('fails a statement made on db inside a transaction instead of hanging, and runs it nowhere', async () => {
    const db = await openDatabase({ thread, transactionWaitMs: 300 });
    try {
      await db.exec('CREATE TABLE nested (n int4 NOT NULL)');
      const tx = db.transaction(async (t) => {
        await t.query('INSERT INTO nested VALUES (1)');
        await db.query('INSERT INTO nested VALUES (2)'); // the bug: db, not t
      });
      await expect(tx).rejects.toThrow(/inside one\? use the transaction's handle/);
      // Statements from outside made meanwhile wait for the transaction and then run as usual.
      expect(await db.query('SELECT n FROM nested')).toEqual([]);
      await db.transaction((t) => t.query('INSERT INTO nested VALUES (3)'));
      expect(await db.query('SELECT n FROM nested')).toEqual([{ n: 3 }]);
    } finally {
      await db.close();
    }
  });
});

describe('db [pglite on a worker thread]', () => {
  const opened: Db[] = [];
  const open = async () => {
    const db = await openDatabase({ thread: true });
    opened.push(db);
    return db;
  };
  afterAll(async () => {
    await Promise.allSettled(opened.splice(0).map((db) => db.close()));
  });
  suite(open, 'pglite');

  it('keeps statements from outside out of a transaction in progress', async () => {
    const db = await open();
    await db.exec('CREATE TABLE log (n int4 NOT NULL)');
    let inside!: () => void;
    const started = new Promise<void>((r) => {
      inside = r;
    });
    const tx = db.transaction(async (t) => {
      await t.query('INSERT INTO log VALUES (1)');
      inside();
      await new Promise((r) => setTimeout(r, 50));
      await t.query('INSERT INTO log VALUES (2)');
      throw new Error('roll back');
    });
    await started;
    // Sent while the transaction is open: must not land in it (and so survive its rollback).
    const outside = db.query('INSERT INTO log VALUES (3)');
    await expect(tx).rejects.toThrow('roll back');
    await outside;
    expect(await db.query('SELECT n FROM log ORDER BY n')).toEqual([{ n: 3 }]);
  });
});

describe('db [postgres only]', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn().catch(() => {});
  });

  /** A fresh database and `handles` Db handles on it. */
  async function handlesOnOneDatabase(handles: number): Promise<Db[]> {
    const created: TestPostgresDatabase = await createTestPostgresDatabase();
    cleanup.push(created.drop);
    const dbs = await Promise.all(
      Array.from({ length: handles }, () => openDatabase({ url: created.url, poolSize: 5 })),
    );
    for (const db of dbs) cleanup.push(() => db.close());
    return dbs;
  }

  it('runs concurrent migrate calls from several handles without failing', async () => {
    for (let round = 0; round < 5; round++) {
      const dbs = await handlesOnOneDatabase(2);
      const results = await Promise.all(dbs.map((db) => migrate(db, migrations)));
      // Each migration is applied by exactly one of the callers.
      expect(results.flat().sort()).toEqual(['20261126_0001_accounts', '20261126_0002_entries']);
      expect(await migrate(dbs[0]!, migrations)).toEqual([]);
      expect(await dbs[1]!.query('SELECT count(*) AS c FROM schema_migrations')).toEqual([{ c: 2n }]);
    }
  });

  it('keeps the exact count when two handles increment one row concurrently', async () => {
    const [a, b] = await handlesOnOneDatabase(2);
    await a!.exec(
      'CREATE TABLE counter (id int PRIMARY KEY, n int8 NOT NULL); INSERT INTO counter VALUES (1, 0)',
    );
    await Promise.all(Array.from({ length: 50 }, (_, i) => increment(i % 2 === 0 ? a! : b!)));
    expect(await b!.query('SELECT n FROM counter WHERE id = 1')).toEqual([{ n: 50n }]);
  });
});

/** Reads, waits a little while holding the row lock, writes: loses updates unless FOR UPDATE serialises. */
async function increment(db: Db): Promise<void> {
  await db.transaction(async (tx) => {
    const [row] = await tx.query<{ n: bigint }>('SELECT n FROM counter WHERE id = 1 FOR UPDATE');
    await new Promise((r) => setTimeout(r, 1));
    await tx.query('UPDATE counter SET n = $1 WHERE id = 1', [row!.n + 1n]);
  });
}

describe('sqlMigrations', () => {
  it('reads numbered .sql files in order, their names without .sql as ids, and skips other files', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'netpay-migrations-'));
    try {
      writeFileSync(path.join(dir, '20261201_0002_second.sql'), 'CREATE TABLE b (x int);');
      writeFileSync(path.join(dir, '20261201_0001_first.sql'), 'CREATE TABLE a (x int);');
      writeFileSync(path.join(dir, 'README.md'), 'not a migration');
      writeFileSync(path.join(dir, 'draft.sql'), 'not numbered');
      const found = sqlMigrations(pathToFileURL(`${dir}/`));
      expect(found).toEqual([
        { id: '20261201_0001_first', sql: 'CREATE TABLE a (x int);' },
        { id: '20261201_0002_second', sql: 'CREATE TABLE b (x int);' },
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
