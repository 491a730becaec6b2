/**
 * The processes of the crash run (issue 18 §1): `netpay … start` services that can be killed with SIGKILL
 * and started again on the same port and data folder, and one-shot `netpay wallet …` commands. Plain Node
 * (no Vitest), so `soak/crash.ts` runs it too.
 */
import { fromSource, NETPAY_BIN, type Proc, sleep } from '../children.ts';

export { killAll, type Proc, sleep } from '../children.ts';

/** `netpay <args>` as a child process. */
export const netpay = (args: string[], env: NodeJS.ProcessEnv = {}): Proc =>
  fromSource(`netpay ${args[0] ?? ''}`, NETPAY_BIN, args, env);

/** SIGKILL, and wait until the process is gone. */
export async function sigkill(p: Proc): Promise<void> {
  if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await p.exit;
}

/** The first line a service prints (its JSON with the URL it listens on). */
export async function firstLine(p: Proc, timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (!p.stdout().includes('\n')) {
    if (p.child.exitCode !== null || p.child.signalCode !== null)
      throw new Error(`netpay exited early: ${p.stderr().slice(-2000)}`);
    if (Date.now() > deadline)
      throw new Error(`no output within ${timeoutMs} ms: ${p.stderr().slice(-2000)}`);
    await sleep(20);
  }
  return p.stdout().split('\n')[0]!;
}

/**
 * A service (`netpay broker|vendor start …`) that is killed and started again: the first start picks a
 * free port, every later one listens on that port again, with the same data folder.
 */
export class Service {
  proc: Proc | undefined;
  port = 0;
  url = '';
  /** While it is being killed and started again: not picked for another kill. */
  restarting = false;

  constructor(
    readonly kind: 'broker' | 'vendor',
    readonly name: string,
    private readonly args: (port: number) => string[],
    private readonly env: NodeJS.ProcessEnv = {},
  ) {}

  /** Starts it and waits until it listens. A port still held by the killed process is tried again. */
  async start(timeoutMs = 90_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let first: string | undefined;
    for (;;) {
      const p = netpay(this.args(this.port), this.env);
      this.proc = p;
      try {
        const info = JSON.parse(await firstLine(p, Math.max(1_000, deadline - Date.now())));
        this.url = String(info.url);
        this.port = Number(new URL(this.url).port);
        return;
      } catch (e) {
        await sigkill(p);
        first ??= (e as Error).message;
        if (Date.now() > deadline)
          throw new Error(`${this.name} does not start: ${first} (last try: ${(e as Error).message})`);
        await sleep(250);
      }
    }
  }

  /** SIGKILL at whatever point it is, then the same start again. */
  async killAndRestart(): Promise<void> {
    this.restarting = true;
    try {
      if (this.proc) await sigkill(this.proc);
      await this.start();
    } finally {
      this.restarting = false;
    }
  }
}

/** A seeded pseudo-random source (mulberry32): the same seed gives the same workload and kill points. */
export function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    /** A whole number in [lo, hi]. */
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)]!,
    /** Another source, derived from this one: for a part of the run that must not shift the others. */
    fork: () => prng(Math.floor(next() * 2 ** 32)),
  };
}
export type Prng = ReturnType<typeof prng>;
