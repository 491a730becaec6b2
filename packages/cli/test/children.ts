/**
 * Child processes for the long runs (the crash run, the load run): `netpay …` or another TypeScript module
 * of this repository, run from the sources (tsx, the `@netpay/source` condition) as the CLI tests do, their
 * output kept (stderr's end only) and every one tracked, so that a run can kill what is left however it
 * ends. Plain Node (no Vitest), so `npm run soak` uses it too.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const NETPAY_BIN = fileURLToPath(new URL('../bin/netpay.mjs', import.meta.url));
const FROM_SOURCE = [
  '--conditions=@netpay/source',
  '--import',
  pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href,
];
const TSCONFIG = fileURLToPath(new URL('../../../tsconfig.json', import.meta.url));
// A child picks its own database: the test PostgreSQL of the parent is passed only where meant.
const { DATABASE_URL: _ignored, ...ENV } = process.env;

export interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Every process started and not yet gone. */
const live = new Set<Proc>();

/** `file` (a TypeScript module or the netpay bin) with `args`, its stdin a pipe when asked for. */
export function fromSource(
  name: string,
  file: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
  stdin: 'ignore' | 'pipe' = 'ignore',
): Proc {
  const child = spawn(process.execPath, [...FROM_SOURCE, file, ...args], {
    env: { ...ENV, TSX_TSCONFIG_PATH: TSCONFIG, ...env },
    stdio: [stdin, 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err = (err + d).slice(-20_000); // only the end is read: why a process failed; services log a lot
  });
  const p: Proc = {
    name,
    child,
    stdout: () => out,
    stderr: () => err,
    exit: new Promise((resolve) =>
      child.on('exit', (code, signal) => {
        live.delete(p);
        resolve({ code, signal });
      }),
    ),
  };
  live.add(p);
  return p;
}

/** Kills every process started here that still runs. */
export async function killAll(): Promise<void> {
  const left = [...live];
  for (const p of left) p.child.kill('SIGKILL');
  await Promise.all(left.map((p) => p.exit));
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
