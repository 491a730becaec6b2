/**
 * PGlite on a worker thread (pglite-worker.mjs), so its statements use another core and never block the
 * caller's event loop. The thread is one connection: plain statements share it, a transaction has it to
 * itself.
 */
import { mkdirSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { guardedPglite } from './pglite.ts';
import type { Db, Queryable } from './types.ts';

type Op = 'query' | 'exec' | 'close';

/** The main thread's end of the worker: one message per statement, answered by id. */
interface WorkerLink {
  send<T>(op: Op, sql?: string, params?: readonly unknown[]): Promise<T>;
  /** Whether the thread has died (an error or an exit): every call fails from then on. */
  failed(): boolean;
  terminate(): Promise<number>;
}

/** The same Db over PGlite in a worker thread (pglite-worker.mjs). */
export async function openPgliteThread(dataDir: string | undefined, waitMs?: number): Promise<Db> {
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const link = await startWorker(dataDir);
  const direct: Queryable = {
    query: <R>(sql: string, params?: readonly unknown[]) => link.send<R[]>('query', sql, params),
    exec: (sql: string) => link.send<void>('exec', sql),
  };
  const { shared, transact } = oneConnection(direct);
  return guardedPglite(
    {
      query: (sql, params) => shared(() => direct.query(sql, params)),
      exec: (sql) => shared(() => direct.exec(sql)),
    },
    transact,
    async () => {
      if (link.failed()) return;
      await shared(() => link.send<void>('close'));
      await link.terminate();
    },
    waitMs,
  );
}

async function startWorker(dataDir: string | undefined): Promise<WorkerLink> {
  const worker = new Worker(new URL('./pglite-worker.mjs', import.meta.url), { workerData: { dataDir } });
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  let nextId = 0;
  let failure: Error | undefined;
  worker.on('message', (m: { id: number; ok: boolean; result?: unknown; error?: Record<string, string> }) => {
    const w = waiting.get(m.id);
    if (!w) return;
    waiting.delete(m.id);
    if (m.ok) w.resolve(m.result);
    else w.reject(Object.assign(new Error(m.error?.message ?? 'PGlite failed'), m.error));
  });
  const die = (e: Error) => {
    failure = e;
    for (const w of waiting.values()) w.reject(e);
    waiting.clear();
  };
  worker.on('error', die);
  worker.on('exit', (code) => die(new Error(`the PGlite thread exited (${code})`)));
  await ready(worker);
  return {
    send: <T>(op: Op, sql = '', params: readonly unknown[] = []) =>
      new Promise<T>((resolve, reject) => {
        if (failure) return reject(failure);
        const id = ++nextId;
        waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
        worker.postMessage({ id, op, sql, params });
      }),
    failed: () => failure !== undefined,
    terminate: () => worker.terminate(),
  };
}

/** Resolves when the worker has opened its database and says so. */
function ready(worker: Worker): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onReady = (m: { ready?: boolean }) => {
      if (!m.ready) return;
      worker.off('message', onReady);
      resolve();
    };
    worker.on('message', onReady);
    worker.once('error', reject);
  });
}

/**
 * One connection: a transaction has it to itself. Plain statements run side by side (PGlite queues
 * them in order); a transaction waits for those in flight and holds new ones back until it ends.
 */
function oneConnection(direct: Queryable) {
  let exclusive: Promise<void> | undefined;
  let inFlight = 0;
  let drained: (() => void) | undefined;
  const shared = async <T>(run: () => Promise<T>): Promise<T> => {
    while (exclusive) await exclusive;
    inFlight++;
    try {
      return await run();
    } finally {
      if (--inFlight === 0) drained?.();
    }
  };
  const transact = async <T>(fn: (tx: Queryable) => Promise<T>): Promise<T> => {
    while (exclusive) await exclusive;
    let release!: () => void;
    exclusive = new Promise((r) => {
      release = r;
    });
    try {
      if (inFlight > 0) await new Promise<void>((r) => (drained = r));
      drained = undefined;
      return await inTransaction(direct, fn);
    } finally {
      exclusive = undefined;
      release();
    }
  };
  return { shared, transact };
}

/** BEGIN, `fn`, then COMMIT, or ROLLBACK if it throws. */
async function inTransaction<T>(direct: Queryable, fn: (tx: Queryable) => Promise<T>): Promise<T> {
  await direct.exec('BEGIN');
  try {
    const out = await fn(direct);
    await direct.exec('COMMIT');
    return out;
  } catch (e) {
    await direct.exec('ROLLBACK').catch(() => {});
    throw e;
  }
}
