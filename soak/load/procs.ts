/**
 * The processes of the load run (issue 18 §5): `netpay … start` services and the wallet drivers, each a
 * child process running from the TypeScript sources (tsx, the `@netpay/source` condition) as the CLI tests
 * do. Plain Node (no Vitest), so `npm run soak` and the e2e test both use it.
 */
import { fromSource, NETPAY_BIN, type Proc, sleep } from '../../packages/cli/test/children.ts';

export { killAll, type Proc, sleep } from '../../packages/cli/test/children.ts';

/** `netpay <args>` as a child process. */
export const netpay = (name: string, args: string[], env: NodeJS.ProcessEnv = {}): Proc =>
  fromSource(name, NETPAY_BIN, args, env);

/** A TypeScript module of this repository as a child process, its stdin a pipe (the drivers' "go"). */
export const script = (name: string, file: string, env: NodeJS.ProcessEnv = {}): Proc =>
  fromSource(name, file, [], env, 'pipe');

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
