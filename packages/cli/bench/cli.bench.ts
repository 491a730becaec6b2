/**
 * CLI start-up benchmark (`npm run bench`, or `npm run -s bench -- cli` alone): the wall time of
 * `node packages/cli/bin/netpay.mjs --help`, each run a process of its own with plain node (no tsx, no
 * source condition: the compiled CLI in dist/, as a user runs it; `npm run build` first). One run first,
 * not counted (it fills the file cache), then RUNS timed ones; the figure is their median, with the runs
 * beside it.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const RUNS = 7;
const BIN = fileURLToPath(new URL('../bin/netpay.mjs', import.meta.url));

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (x: number, digits = 1) => Number(x.toFixed(digits));

/** One `netpay --help`, from spawn to exit, in milliseconds; throws unless it printed the usage and exited 0. */
function helpOnce(): Promise<number> {
  // Without this process's NODE_OPTIONS (tsx's loader may be there): the child runs as a user's would.
  const { NODE_OPTIONS: _loader, ...env } = process.env;
  const started = performance.now();
  const child = spawn(process.execPath, [BIN, '--help'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - started;
      if (code === 0 && out.includes('Usage: netpay')) resolve(ms);
      else reject(new Error(`netpay --help exited ${code}: ${err || out}`));
    });
  });
}

export async function runCliBench() {
  await helpOnce();
  const runs: number[] = [];
  for (let i = 0; i < RUNS; i++) runs.push(round(await helpOnce()));
  return { helpMs: median(runs), runs };
}
