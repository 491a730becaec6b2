/**
 * P2P benchmark (`npm run bench`, or `npm run bench -- p2p` alone; docs/p2p.md, issue 16): a 100 MiB file
 * of random bytes moved seller → buyer over loopback. The CIS (the broker, tokens mode, PGlite in memory,
 * dev mode) runs in this process; every seller and the buyer are peers in processes of their own
 * (peer-process.ts): sellers are `startPeer`; a new buyer process per run (as `netpay peer get`: one
 * process per download) runs `getFile` on a small file, then on the big one, timed there (registration,
 * offer, coins and every chunk, each checked against its leaf). (A buyer reused run after run used to
 * fall into back-to-back mark-compacts some seconds in; buyer-loop.ts shows it no longer does.)
 *
 * Paid (PRICE per 256 KiB chunk, paid with one coin of PRICE) and unpaid (a seller asking 0: the gate lets
 * the chunk through and the buyer sends no payment) runs are interleaved, RUNS of each, each by a new buyer
 * (fresh data folder: a new peer, a new wallet) to a fresh output path, so nothing is resumed; then paid
 * runs from PARALLEL_SELLERS sellers at once. Every figure is a median, with the runs beside it; the coins
 * each paid run spent (chunks × price) and what the sellers redeemed at the CIS at the end (all of it).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { migrate, openDatabase } from '@netpay/db';
import { CHUNK_SIZE } from '@netpay/protocol';
import { createBroker } from '../../broker/src/app.ts';
import { BROKER_MIGRATIONS } from '../../broker/src/migrations.ts';

const MIB = 1024 * 1024;
const FILE_MIB = 100;
const CHUNKS = (FILE_MIB * MIB) / CHUNK_SIZE;
/** Price of a chunk at the paid sellers, minor units: one coin of a denomination the CIS sells. */
const PRICE = 10n;
/** Runs of paid and of unpaid (interleaved), then of parallel. */
const RUNS = 5;
const PARALLEL_RUNS = 3;
const PARALLEL_SELLERS = 3;
/** A small file beside the big one, fetched by each buyer before its timed run (JIT, first queries, connections). */
const WARM_MIB = 8;
const GOALS = { ratio: { must: 0.9, goal: 0.97 } };

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (x: number, digits = 1) => Number(x.toFixed(digits));
const log = (line: string) => process.stderr.write(`bench p2p: ${line}\n`);

/** The CIS: the broker on loopback, PGlite in memory, dev mode, registration open, each new peer granted tokens. */
export async function cis() {
  const db = await openDatabase();
  await migrate(db, BROKER_MIGRATIONS);
  const b = createBroker({
    db,
    config: {
      dev: true,
      argon2: { t: 1, m: 64, p: 1 },
      registration: 'open',
      p2p: { currency: 'tokens', grant: '1000000' },
    },
  });
  await b.app.listen({ port: 0, host: '127.0.0.1' });
  return {
    url: `http://127.0.0.1:${(b.app.server.address() as AddressInfo).port}`,
    close: async () => {
      await b.app.close();
      await db.close();
    },
  };
}

/** A peer process (peer-process.ts): one message sent, its answer awaited; an `error` answer throws. */
export function peerProcess(cisUrl: string) {
  // NETPAY_BENCH_PROFILE=DIR writes a V8 CPU profile of each peer process there (open it in DevTools).
  const profile = process.env.NETPAY_BENCH_PROFILE;
  const proc: ChildProcess = fork(fileURLToPath(new URL('./peer-process.ts', import.meta.url)), {
    execArgv: [...process.execArgv, ...(profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : [])],
    env: { ...process.env, NETPAY_BENCH_CIS: cisUrl },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = <T>() =>
    new Promise<T>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`peer-process.ts exited (${code})`));
      proc.once('exit', onExit);
      proc.once('message', (m: { type: string; message?: string }) => {
        proc.off('exit', onExit);
        if (m.type === 'error') reject(new Error(`peer process: ${m.message}`));
        else resolve(m as T);
      });
    });
  const ask = <T>(message: object) => {
    const p = next<T>();
    proc.send(message);
    return p;
  };
  const ready = next();
  return {
    ready,
    ask,
    cpuUs: async () => (await ask<{ us: number }>({ type: 'cpu' })).us,
    async stop() {
      if (proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.send({ type: 'stop' });
      await exited;
    },
  };
}
export type PeerProcess = ReturnType<typeof peerProcess>;

/** A seller process sharing `share` at `price` per chunk; its file ids by name. */
export async function seller(cisUrl: string, share: string, dataDir: string, price: bigint) {
  const p = peerProcess(cisUrl);
  await p.ready;
  const s = await p.ask<{ url: string; peerId: string; files: { fileId: string; name: string }[] }>({
    type: 'serve',
    share,
    dataDir,
    price: price.toString(),
  });
  const fileId = (name: string) => {
    const f = s.files.find((x) => x.name === name);
    if (!f) throw new Error(`seller ${s.peerId} does not share ${name}`);
    return f.fileId;
  };
  return { ...p, peerId: s.peerId, fileId };
}
export type Seller = Awaited<ReturnType<typeof seller>>;

/** Writes `dir`/`name`: `mib` MiB of random bytes, a MiB at a time. Answers `dir`. */
export function randomFile(dir: string, name: string, mib = FILE_MIB) {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, name);
  writeFileSync(path, Buffer.alloc(0));
  for (let i = 0; i < mib; i++) writeFileSync(path, randomBytes(MIB), { flag: 'a' });
  return dir;
}

/** A copy of a share folder's files in a new folder beside it. */
function copyShare(share: string, suffix: string) {
  const copy = `${share}-${suffix}`;
  mkdirSync(copy);
  for (const name of readdirSync(share)) copyFileSync(join(share, name), join(copy, name));
  return copy;
}

interface Run {
  MiBps: number;
  seconds: number;
  /** Paid by the buyer, minor units. */
  spent: string;
  chunks: number;
  /** Chunks each seller sent. */
  from: Record<string, number>;
  /** CPU ms of the buyer's process, and of the seller processes together, over the run. */
  buyerCpuMs: number;
  sellerCpuMs: number;
}

type Got = {
  ms: number;
  cpuUs: number;
  size: number;
  spent: string;
  from: Record<string, number>;
  dropped: Record<string, string>;
};

/**
 * One run: a new buyer process (`netpay peer get` is a process per download) fetches the small `warm` file
 * from `sellers` (JIT, connections; untimed), then, as a new peer (fresh data folder, wallet and output
 * path), `name` — timed in the buyer around getFile. Answers the timed run and what the warm-up spent.
 */
async function download(
  cisUrl: string,
  sellers: readonly Seller[],
  files: { name: string; warm: string },
  dir: string,
  n: number,
) {
  const buyer = peerProcess(cisUrl);
  try {
    await buyer.ready;
    const get = async (name: string, as: string) => {
      const got = await buyer.ask<Got>({
        type: 'get',
        fileId: sellers[0]!.fileId(name),
        dataDir: join(dir, `buyer-${as}`),
        out: join(dir, `out-${as}.bin`),
      });
      if (Object.keys(got.dropped).length > 0)
        throw new Error(`sellers dropped: ${JSON.stringify(got.dropped)}`);
      return got;
    };
    const warm = await get(files.warm, `${n}-warm`);
    const cpu0 = await Promise.all(sellers.map((s) => s.cpuUs()));
    const got = await get(files.name, `${n}`);
    const cpu1 = await Promise.all(sellers.map((s) => s.cpuUs()));
    const run: Run = {
      MiBps: round(got.size / MIB / (got.ms / 1000)),
      seconds: round(got.ms / 1000, 2),
      spent: got.spent,
      chunks: Object.values(got.from).reduce((a, b) => a + b, 0),
      from: got.from,
      buyerCpuMs: Math.round(got.cpuUs / 1000),
      sellerCpuMs: Math.round(cpu1.reduce((a, c, k) => a + c - cpu0[k]!, 0) / 1000),
    };
    log(
      `${n} ${files.name}: ${run.MiBps} MiB/s, ${run.seconds} s, spent ${run.spent}, ${sellers.length} seller(s)`,
    );
    return { run, warmSpent: BigInt(warm.spent) };
  } finally {
    await buyer.stop();
  }
}

/** Medians of a kind's runs, and the runs. */
const summary = (runs: readonly Run[]) => ({
  MiBps: median(runs.map((r) => r.MiBps)),
  buyerCpuMs: median(runs.map((r) => r.buyerCpuMs)),
  sellerCpuMs: median(runs.map((r) => r.sellerCpuMs)),
});

export async function runP2pBench() {
  const dir = mkdtempSync(join(tmpdir(), 'netpay-bench-p2p-'));
  const c = await cis();
  const started: PeerProcess[] = [];
  try {
    log(`writing two files of ${FILE_MIB} MiB`);
    const paidShare = randomFile(join(dir, 'paid-share'), 'paid.bin');
    const freeShare = randomFile(join(dir, 'free-share'), 'free.bin');
    randomFile(paidShare, 'warm-paid.bin', WARM_MIB);
    randomFile(freeShare, 'warm-free.bin', WARM_MIB);
    let sellers = 0;
    const start = async (share: string, price: bigint) => {
      const s = await seller(c.url, share, join(dir, `seller-${sellers++}`), price);
      started.push(s);
      return s;
    };
    const [paid, free] = await Promise.all([start(paidShare, PRICE), start(freeShare, 0n)]);
    const paidFiles = { name: 'paid.bin', warm: 'warm-paid.bin' };
    const freeFiles = { name: 'free.bin', warm: 'warm-free.bin' };
    let n = 0;
    let warmSpent = 0n;
    const timed = async (sellers: readonly Seller[], files: typeof paidFiles) => {
      const r = await download(c.url, sellers, files, dir, n++);
      warmSpent += r.warmSpent;
      return r.run;
    };
    // Paid and unpaid interleaved, so the machine's noise hits both alike; one seller each.
    const runs = { paid: [] as Run[], unpaid: [] as Run[], parallel: [] as Run[] };
    for (let i = 0; i < RUNS; i++) {
      runs.paid.push(await timed([paid], paidFiles));
      runs.unpaid.push(await timed([free], freeFiles));
    }
    await free.stop();
    // The same paid file from PARALLEL_SELLERS sellers at once: the first one, and more each with a copy.
    const more = await Promise.all(
      Array.from({ length: PARALLEL_SELLERS - 1 }, (_, k) => start(copyShare(paidShare, `${k}`), PRICE)),
    );
    const all = [paid, ...more];
    for (let i = 0; i < PARALLEL_RUNS; i++) runs.parallel.push(await timed(all, paidFiles));
    // Every coin paid (warm-ups too) is credited at the CIS.
    let redeemed = 0n;
    for (const s of all) redeemed += BigInt((await s.ask<{ amount: string }>({ type: 'redeem' })).amount);
    const p = summary(runs.paid);
    const u = summary(runs.unpaid);
    const par = summary(runs.parallel);
    const expected = BigInt(CHUNKS) * PRICE;
    const paidRuns = [...runs.paid, ...runs.parallel];
    const totalSpent = paidRuns.reduce((a, r) => a + BigInt(r.spent), warmSpent);
    return {
      method: `${FILE_MIB} MiB of random bytes (${CHUNKS} chunks of 256 KiB) seller → buyer on loopback; the CIS (broker, tokens, PGlite in memory) in the bench process, each seller (startPeer) a process of its own; every run a new buyer process (getFile, timed around the call, after an untimed ${WARM_MIB} MiB download from the same sellers) as a new peer (data folder, wallet, output path); ${RUNS} runs per kind, paid and unpaid interleaved, then ${PARALLEL_RUNS} from ${PARALLEL_SELLERS} sellers; medians`,
      paidMiBps: p.MiBps,
      unpaidMiBps: u.MiBps,
      ratio: round(p.MiBps / u.MiBps, 3),
      goal: GOALS.ratio,
      /** Each paid run ÷ the unpaid run right after it: the spread of the ratio on this machine. */
      pairRatios: runs.paid.map((r, k) => round(r.MiBps / runs.unpaid[k]!.MiBps, 3)),
      parallelMiBps: par.MiBps,
      parallelSellers: PARALLEL_SELLERS,
      pricePerChunk: PRICE.toString(),
      cpuMs: {
        note: 'median CPU ms per run: the buyer process, and the seller processes together',
        paid: { buyer: p.buyerCpuMs, sellers: p.sellerCpuMs },
        unpaid: { buyer: u.buyerCpuMs, sellers: u.sellerCpuMs },
        parallel: { buyer: par.buyerCpuMs, sellers: par.sellerCpuMs },
      },
      runs,
      checks: {
        /** What every paid run must have spent: chunks × price. */
        spentPerPaidRun: expected.toString(),
        paidRunsExact: paidRuns.every((r) => r.spent === expected.toString() && r.chunks === CHUNKS),
        unpaidRunsFree: runs.unpaid.every((r) => r.spent === '0' && r.chunks === CHUNKS),
        /** Paid in all (warm-ups included) and what the sellers redeemed of it at the CIS: equal. */
        totalSpent: totalSpent.toString(),
        redeemedAtCis: redeemed.toString(),
      },
    };
  } finally {
    for (const p of started) await p.stop().catch(() => {});
    await c.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
