/**
 * The processes of the load run (issue 18 §5): `netpay … start` services and the wallet drivers, each a
 * child process running from the TypeScript sources (tsx, the `@netpay/source` condition) as the CLI tests
 * do. Plain Node (no Vitest), so `npm run soak` and the e2e test both use it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const BIN = fileURLToPath(new URL('../../packages/cli/bin/netpay.mjs', import.meta.url));
const FROM_SOURCE = [
  '--conditions=@netpay/source',
  '--import',
  pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href,
];
const TSCONFIG = fileURLToPath(new URL('../../tsconfig.json', import.meta.url));
const { DATABASE_URL: _ignored, ...ENV } = process.env;

export interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Every process started and not yet gone, so a run can stop what is left however it ends. */
const live = new Set<Proc>();

function track(name: string, child: ChildProcess): Proc {
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err = (err + d).slice(-20_000); // only the end is read: why a process failed
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

/** `netpay <args>` as a child process. */
export function netpay(name: string, args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn(process.execPath, [...FROM_SOURCE, BIN, ...args], {
    env: { ...ENV, TSX_TSCONFIG_PATH: TSCONFIG, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return track(name, child);
}

/** A TypeScript module of this repository as a child process, its stdin a pipe (the drivers' "go"). */
export function script(name: string, file: string, env: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn(process.execPath, [...FROM_SOURCE, file], {
    env: { ...ENV, TSX_TSCONFIG_PATH: TSCONFIG, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  return track(name, child);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The n-th line (0: the first) the process prints, once it has; its exit or the time-out is an error. */
export async function line(p: Proc, n = 0, timeoutMs = 120_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const lines = p.stdout().split('\n');
    if (lines.length > n + 1) return lines[n]!;
    if (p.child.exitCode !== null || p.child.signalCode !== null)
      throw new Error(`${p.name} exited: ${p.stderr().slice(-3000)}`);
    if (Date.now() > deadline)
      throw new Error(`${p.name}: no output within ${timeoutMs} ms: ${p.stderr().slice(-3000)}`);
    await sleep(25);
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once it is gone. */
export async function stop(p: Proc, graceMs = 15_000): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGTERM');
  const done = await Promise.race([p.exit, sleep(graceMs).then(() => undefined)]);
  if (!done) {
    p.child.kill('SIGKILL');
    await p.exit;
  }
}

/** Kills every process this module started that still runs. */
export async function killAll(): Promise<void> {
  const left = [...live];
  for (const p of left) p.child.kill('SIGKILL');
  await Promise.all(left.map((p) => p.exit));
}
