/** Runs `netpay` as a real child process for the CLI tests. */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { seedPgliteDataDir } from '@netpay/db/testing';
import { afterAll } from 'vitest';

const BIN = fileURLToPath(new URL('../bin/netpay.mjs', import.meta.url));
/**
 * The command runs from the TypeScript sources, as the tests do (no build needed): the bin imports the CLI
 * through the package's exports, which the `@netpay/source` condition sends to src/, compiled by tsx.
 */
const FROM_SOURCE = [
  '--conditions=@netpay/source',
  '--import',
  pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href,
];
const TSCONFIG = fileURLToPath(new URL('../../../tsconfig.json', import.meta.url));
export const { DATABASE_URL: _ignored, ...ENV } = process.env;

export interface Run {
  readonly child: ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function netpay(args: string[], env: NodeJS.ProcessEnv = ENV): Run {
  const child = spawn(process.execPath, [...FROM_SOURCE, BIN, ...args], {
    env: { TSX_TSCONFIG_PATH: TSCONFIG, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => out, stderr: () => err, exit };
}

export async function firstLine(run: Run, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (!run.stdout().includes('\n')) {
    if (run.child.exitCode !== null) throw new Error(`netpay exited early: ${run.stderr()}`);
    if (Date.now() > deadline) throw new Error(`no output within ${timeoutMs} ms: ${run.stderr()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return run.stdout().split('\n')[0]!;
}

/** No "    at file:line" frames: user mistakes are one clear line. */
export const STACK_FRAME = /^\s+at /m;

/**
 * A temporary folder and the processes a describe block starts: call inside `describe`; everything still
 * running is killed and the folder removed after the block.
 */
export function processScope(prefix: string) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const running: Run[] = [];
  afterAll(() => {
    for (const r of running) if (r.child.exitCode === null) r.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  /** Runs `netpay` and kills it after the block if it is still running. */
  const start = (args: string[], env?: NodeJS.ProcessEnv) => {
    const run = netpay(args, env);
    running.push(run);
    return run;
  };
  // The helpers below start their servers on a copy of an empty PGlite cluster (no initdb, seconds
  // each); cli.test.ts, broker-cli.test.ts, vendor-cli.test.ts and demo.test.ts start some from nothing.
  /** Starts the stand-in bank (counting in 4 decimals, like the broker) and returns its URL. */
  const bank = async () => {
    seedPgliteDataDir(join(dir, 'bank'));
    const run = start([
      'bank',
      'start',
      '--port',
      '0',
      '--json',
      '--data',
      join(dir, 'bank'),
      '--exponent',
      '4',
    ]);
    return { run, url: String(JSON.parse(await firstLine(run)).url) };
  };
  /** Starts a dev broker beside that bank (data in the scope's folder) and returns its URL. */
  const broker = async (bankUrl: string, extra: string[] = []) => {
    seedPgliteDataDir(join(dir, 'broker'));
    const run = start([
      'broker',
      'start',
      '--port',
      '0',
      '--json',
      '--dev',
      '--data',
      join(dir, 'broker'),
      '--bank',
      bankUrl,
      ...extra,
    ]);
    return { run, url: String(JSON.parse(await firstLine(run)).url) };
  };
  /**
   * Runs `netpay vendor start` selling `folder` at `prices` (written to <dir>/<vendorId>.json), its key and
   * data in <dir>/<data ?? vendorId>, without waiting for it: for a start that is meant to fail.
   */
  const vendorRun = (o: {
    vendorId: string;
    prices: Record<string, string>;
    folder: string;
    brokerUrl: string;
    data?: string;
    extra?: string[];
    env?: NodeJS.ProcessEnv;
  }) => {
    const pricesFile = join(dir, `${o.vendorId}.json`);
    writeFileSync(pricesFile, JSON.stringify({ vendorId: o.vendorId, prices: o.prices }));
    if (!o.env?.DATABASE_URL) seedPgliteDataDir(join(dir, o.data ?? o.vendorId, 'db'));
    const run = start(
      [
        'vendor',
        'start',
        '--port',
        '0',
        '--json',
        '--folder',
        o.folder,
        '--prices',
        pricesFile,
        '--broker',
        o.brokerUrl,
        '--data',
        join(dir, o.data ?? o.vendorId),
        ...(o.extra ?? []),
      ],
      o.env,
    );
    return { run, pricesFile };
  };
  /** vendorRun, once it listens: its URL and the JSON line it printed. */
  const vendor = async (o: Parameters<typeof vendorRun>[0]) => {
    const { run, pricesFile } = vendorRun(o);
    const info = JSON.parse(await firstLine(run));
    return { run, url: String(info.url), info, pricesFile };
  };
  return { dir, start, bank, broker, vendor, vendorRun };
}
