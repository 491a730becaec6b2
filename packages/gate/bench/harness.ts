/**
 * The vendor benchmark's harness: a broker in this process, servers (vendor-process.ts) and the load
 * generator (load-process.ts) each in a process of its own, chains bought and held, and one measured
 * window = the server's CPU per request (process.cpuUsage() inside it) beside the generator's figures.
 */
import { type ChildProcess, fork } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { migrate, openDatabase } from '@netpay/db';
import { ChainTraversal, encodeHeader, HEADERS, randomBytes, toBase64url } from '@netpay/protocol';
import { createBroker } from '../../broker/src/app.ts';
import { customerAccount, SYSTEM_ACCOUNTS } from '../../broker/src/ledger/ledger.ts';
import { BROKER_MIGRATIONS } from '../../broker/src/migrations.ts';
import type { LoadResult, Payment, Window } from './load-process.ts';

export const WINDOW_SECONDS = 3;
export const WINDOWS = 3;
export const CONNECTIONS = 32;

export const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
export const round = (x: number, digits = 1) => Number(x.toFixed(digits));
export const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

/** A forked child speaking { type } messages: send one, await the next of a type. */
export function child(file: string, env: Record<string, string>) {
  // NETPAY_BENCH_PROFILE=DIR writes a V8 CPU profile of each server process there (open it in DevTools).
  const profile = process.env.NETPAY_BENCH_PROFILE;
  const execArgv =
    profile && file.includes('vendor-process') ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : [];
  const proc: ChildProcess = fork(fileURLToPath(new URL(file, import.meta.url)), {
    execArgv: [...process.execArgv, ...execArgv],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = <T>(type: string) =>
    new Promise<T>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`${file} exited (${code})`));
      const onMessage = (m: { type: string }) => {
        if (m.type !== type) return;
        proc.off('message', onMessage);
        proc.off('exit', onExit);
        resolve(m as T);
      };
      proc.once('exit', onExit);
      proc.on('message', onMessage);
    });
  const ask = <T>(message: object, answer: string) => {
    const p = next<T>(answer);
    proc.send(message);
    return p;
  };
  const stop = async () => {
    const exited = new Promise((r) => proc.once('exit', r));
    proc.send({ type: 'stop' });
    await exited;
  };
  return { proc, next, ask, stop };
}

export async function broker() {
  const db = await openDatabase();
  await migrate(db, BROKER_MIGRATIONS);
  const b = createBroker({
    db,
    config: { argon2: { t: 1, m: 64, p: 1 }, maxChainLength: 5000, registration: 'open' },
  });
  await b.app.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(b.app.server.address() as AddressInfo).port}`;
  const { customerId } = await b.services.accounts.register({
    login: 'bench@example.com',
    password: 'bench password 1',
    deviceName: 'b',
  });
  const funds = {
    id: 'funds',
    debit: SYSTEM_ACCOUNTS.bank,
    credit: customerAccount(customerId),
    kind: 'load',
  };
  await db.transaction((tx) => b.ctx.ledger.post(tx, [{ ...funds, amount: 10n ** 12n }]));
  return { b, db, url, customerId };
}
export type Broker = Awaited<ReturnType<typeof broker>>;

/**
 * A server process (vendor-process.ts, or `file`: another speaking the same messages) guarded by `gate`; a
 * NetPay vendor is registered at the broker.
 */
export async function server(
  brk: Broker,
  name: string,
  env: Record<string, string> = {},
  file = './vendor-process.ts',
) {
  const c = child(file, { NETPAY_BENCH_BROKER: brk.url, NETPAY_BENCH_VENDOR: name, ...env });
  const ready = await c.next<{ url: string; publicKey: string }>('ready');
  if (ready.publicKey) {
    const party = { id: name, kind: 'vendor' as const, name, publicKey: ready.publicKey, url: ready.url };
    await brk.b.services.parties.register(party);
  }
  return {
    url: ready.url,
    /**
     * Runs `load` as one measured window: the server's CPU µs per request, and the load's figures; `timed`
     * also times each request inside the server (its p99).
     */
    async window(load: () => Promise<LoadResult>, timed = false) {
      await c.ask({ type: 'window-start', timed }, 'window-started');
      const result = await load();
      const used = await c.ask<{
        cpuUs: number;
        systemUs: number;
        threads: Record<string, number>;
        requests: number;
        loopMaxMs: number;
        serverP99Ms: number;
      }>({ type: 'window-stop' }, 'window');
      return {
        ...result,
        cpuUsPerRequest: used.cpuUs / Math.max(1, used.requests),
        /** The part of it spent in the kernel (system calls: sockets, the journal's writes and fdatasync). */
        systemUsPerRequest: used.systemUs / Math.max(1, used.requests),
        /** CPU ticks (1/100 s) per thread name over the window. */
        threads: used.threads,
        loopMaxMs: used.loopMaxMs,
        serverP99Ms: used.serverP99Ms,
      };
    },
    coinsAccepted: async () =>
      (await c.ask<{ coinsAccepted: number }>({ type: 'stats' }, 'stats')).coinsAccepted,
    stop: c.stop,
  };
}
export type Server = Awaited<ReturnType<typeof server>>;

/** The load generator process, told its payment once (or anew with `pay`: its sequences from the start). */
export async function generator(payment?: Payment) {
  const c = child('./load-process.ts', {});
  await c.next('ready');
  const pay = async (p: Payment) => {
    await c.ask({ type: 'payment', payment: p }, 'ready');
  };
  if (payment) await pay(payment);
  return {
    run: async (w: Window) =>
      (await c.ask<{ result: LoadResult }>({ type: 'run', window: w }, 'result')).result,
    pay,
    stop: () => c.proc.kill(),
  };
}

/** `count` chains of `n` coins of `coinValue` bought at the broker, each as its payment headers in order. */
export async function chains(brk: Broker, count: number, n: number, coinValue = 1n) {
  const out: { chainId: string; headers: string[] }[] = [];
  for (let k = 0; k < count; k++) {
    const id = randomBytes(16);
    const { traversal, root } = ChainTraversal.create(randomBytes(32), id, n);
    const chainId = toBase64url(id);
    const order = [{ coinValue, n, chainId, root: toBase64url(root) }];
    await brk.db.transaction((tx) =>
      brk.b.services.issuance.buy(tx, brk.customerId, order, `bench-${chainId}`),
    );
    const headers: string[] = [];
    for (let w = traversal.next(); w; w = traversal.next())
      headers.push(
        encodeHeader({ v: 1, parts: [{ chainId, index: w.index, payword: toBase64url(w.payword) }] }),
      );
    out.push({ chainId, headers });
  }
  return out;
}

/** A NetPay vendor holding `count` chains (each paid once, through the directory), and their other coins. */
export async function heldChains(
  brk: Broker,
  v: Server,
  count: number,
  n: number,
  coinValue = 1n,
): Promise<Payment> {
  const pool = await chains(brk, count, n, coinValue);
  for (const c of pool) {
    const r = await fetch(`${v.url}/paid`, { headers: { [HEADERS.payment]: c.headers[0]! } });
    if (r.status !== 200) throw new Error(`warm-up payment failed: ${r.status} ${await r.text()}`);
  }
  return { header: HEADERS.payment, sequences: pool.map((c) => c.headers.slice(1)) };
}

/**
 * Hand-overs one after another: the next coin of each chain of `held` (held at another vendor, as
 * heldChains leaves them) paid at vendor `b`, which takes the chain over first. The ms each payment took.
 */
export async function timeHandovers(b: Server, held: Payment): Promise<number[]> {
  const times: number[] = [];
  for (const sequence of held.sequences ?? []) {
    const t0 = performance.now();
    const r = await fetch(`${b.url}/paid`, { headers: { [held.header]: sequence[0]! } });
    await r.arrayBuffer();
    times.push(performance.now() - t0);
    if (r.status !== 200) throw new Error(`hand-over payment failed: ${r.status}`);
  }
  return times;
}

export const saturate = (url: string, paid: boolean): Window => ({
  url,
  paid,
  seconds: WINDOW_SECONDS,
  connections: CONNECTIONS,
});
