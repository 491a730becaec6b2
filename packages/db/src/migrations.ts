/** Forward-only schema migrations: numbered SQL files, each applied once, in order, by any process. */
import { readdirSync, readFileSync } from 'node:fs';
import type { Db } from './types.ts';

export interface Migration {
  /** Timestamped name, e.g. `20261126_0001_ledger`; applied in sorted order, forward only. */
  readonly id: string;
  readonly sql: string;
}

/**
 * The migrations kept as numbered SQL files in a folder (`20261126_0200_ledger.sql`: the file name without
 * `.sql` is the id), in sorted order. Call it with the folder's URL: `sqlMigrations(new URL('./migrations/',
 * import.meta.url))`.
 */
export function sqlMigrations(folder: URL): Migration[] {
  return readdirSync(folder)
    .filter((f) => /^\d{8}_\d{4}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((f) => ({ id: f.slice(0, -4), sql: readFileSync(new URL(f, folder), 'utf8') }));
}

/** Applies the migrations not applied yet, each in its own transaction. Safe to call from several processes. */
export async function migrate(db: Db, migrations: readonly Migration[]): Promise<string[]> {
  const ids = migrations.map((m) => m.id);
  if (new Set(ids).size !== ids.length) throw new Error('duplicate migration id');
  const sorted = [...migrations].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  await db.transaction(async (tx) => {
    // Taken before CREATE TABLE too: two processes creating the table at once collide in the catalog.
    if (db.kind === 'postgres') await tx.query('SELECT pg_advisory_xact_lock(4242)');
    await tx.exec(
      'CREATE TABLE IF NOT EXISTS schema_migrations (id text PRIMARY KEY, applied_at bigint NOT NULL)',
    );
  });
  const applied: string[] = [];
  for (const m of sorted) {
    if (await applyOnce(db, m)) applied.push(m.id);
  }
  return applied;
}

/** Applies one migration unless it was applied already; true if this call applied it. */
async function applyOnce(db: Db, m: Migration): Promise<boolean> {
  return db.transaction(async (tx) => {
    if (db.kind === 'postgres') await tx.query('SELECT pg_advisory_xact_lock(4242)');
    const rows = await tx.query('SELECT 1 FROM schema_migrations WHERE id = $1', [m.id]);
    if (rows.length > 0) return false;
    await tx.exec(m.sql);
    await tx.query('INSERT INTO schema_migrations (id, applied_at) VALUES ($1, $2)', [
      m.id,
      BigInt(Date.now()),
    ]);
    return true;
  });
}
