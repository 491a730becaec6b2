/**
 * One server for the vendor benchmark, in a process of its own (forked by vendor.bench.ts) so the load
 * generator and the broker do not share its event loop. The same Fastify app serves `GET /free` and
 * `GET /paid` (1 KiB each); NETPAY_BENCH_GATE says what guards /paid: `netpay` (the NetPay gate, the
 * default), or one of the peers in bench/peers (`l402`, `x402`). Reads NETPAY_BENCH_BROKER,
 * NETPAY_BENCH_VENDOR and NETPAY_BENCH_DATA (a folder: PGlite on disk; absent: in memory).
 *
 * Messages from the parent: `window-start` notes this process's CPU time (process.cpuUsage()) and starts
 * counting responses; `window-stop` answers with the CPU microseconds and responses since — the server's
 * own cost per request, whatever the load generator manages. `stats` answers the coins accepted.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import { migrate, openDatabase } from '@netpay/db';
import { createSigner, randomBytes, toBase64url } from '@netpay/protocol';
import Fastify, { type FastifyInstance } from 'fastify';
import { l402Check } from '../../../bench/peers/l402.ts';
import { x402Gate } from '../../../bench/peers/x402-voucher.ts';
import { createBrokerClient } from '../src/broker-client.ts';
import { createGate } from '../src/gate.ts';
import { netpayFastify } from '../src/http/fastify.ts';
import { createRedeemer } from '../src/redeem/redeemer.ts';
import { createChainStore, VENDOR_MIGRATIONS } from '../src/store/store.ts';

const BODY = 'x'.repeat(1024);
const env = process.env;
const kind = env.NETPAY_BENCH_GATE ?? 'netpay';

/** The NetPay gate over a chain store in PGlite (on disk with NETPAY_BENCH_DATA) or PostgreSQL. */
async function netpay(app: FastifyInstance) {
  const name = env.NETPAY_BENCH_VENDOR!;
  const signer = createSigner(randomBytes(32));
  const db = await openDatabase(
    env.NETPAY_BENCH_DATABASE_URL
      ? { url: env.NETPAY_BENCH_DATABASE_URL }
      : {
          ...(env.NETPAY_BENCH_DATA ? { dataDir: env.NETPAY_BENCH_DATA } : {}),
          // As `netpay vendor start` runs it: on a thread with the journal; NETPAY_BENCH_THREAD says otherwise.
          thread: env.NETPAY_BENCH_THREAD
            ? env.NETPAY_BENCH_THREAD === '1'
            : env.NETPAY_BENCH_JOURNAL !== '0',
        },
  );
  await migrate(db, VENDOR_MIGRATIONS);
  const brokerUrl = env.NETPAY_BENCH_BROKER!;
  const broker = createBrokerClient({ url: brokerUrl, vendorId: name, signer });
  const store = createChainStore({
    db,
    ...(env.NETPAY_BENCH_DATA && env.NETPAY_BENCH_JOURNAL !== '0'
      ? { journal: `${env.NETPAY_BENCH_DATA}.journal`, databaseDir: env.NETPAY_BENCH_DATA }
      : {}),
  });
  const gate = createGate({
    vendorId: name,
    signer,
    broker,
    brokerUrl,
    store,
    currency: { code: 'USD', exponent: 4 },
  });
  netpayFastify(app, gate);
  // As `netpay vendor start` runs it: backups of the chains in use every 3 s (they renew their leases, so
  // no payment waits for a renewal) and redemption every minute.
  const stopRedeemer = createRedeemer({ vendorId: name, signer, broker, store }).start(60_000);
  const coins = async () => {
    await store.statement(); // the journal's coins written behind first
    const [row] = await db.query<{ coins: bigint }>(
      'SELECT COALESCE(sum(accepted_index - start_index), 0)::int8 AS coins FROM vendor_chains',
    );
    return Number(row?.coins ?? 0n);
  };
  return {
    publicKey: toBase64url(signer.publicKey),
    coins,
    close: async () => {
      stopRedeemer();
      await store.close();
      await db.close();
    },
  };
}

/** A peer gate as a preHandler on /paid: 402 unless `check` accepts the request's credential. */
function peer(app: FastifyInstance, header: string, check: (value: string | undefined) => boolean) {
  app.addHook('preHandler', async (req, reply) => {
    if (req.routeOptions.url !== '/paid') return;
    const v = req.headers[header];
    if (!check(typeof v === 'string' ? v : undefined))
      return reply.code(402).send({ code: 'payment_required' });
  });
}

const app = Fastify();
/**
 * CPU ticks (user + system) of this process's main thread and of all its other threads (PGlite's worker,
 * libuv's pool, V8's helpers: Node 20 names them all "node"), from /proc (Linux).
 */
function threadTicks(): Map<string, number> {
  const out = new Map<string, number>();
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const name = tid === String(process.pid) ? 'main' : 'others';
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
      out.set(name, (out.get(name) ?? 0) + ticks);
    }
  } catch {
    // not Linux: no breakdown
  }
  return out;
}
let threadsAtStart = threadTicks();
let counting = { requests: 0, cpu: process.cpuUsage() };
// How long the event loop was blocked during a window: a stall there is every request's latency.
const loop = monitorEventLoopDelay({ resolution: 5 });
// Each request's time inside this process (arrival to response sent), apart from the generator's view;
// only in windows that ask (`timed`), so the CPU windows carry no timing hooks' cost.
let inServer = createHistogram();
let timed = false;
const arrived = new WeakMap<object, bigint>();
app.addHook('onRequest', async (req) => {
  if (timed) arrived.set(req.raw, process.hrtime.bigint());
});
app.addHook('onResponse', async (req) => {
  counting.requests++;
  const t = timed ? arrived.get(req.raw) : undefined;
  if (t !== undefined) inServer.record(Math.max(1, Number(process.hrtime.bigint() - t)));
});
let vendor: Awaited<ReturnType<typeof netpay>> | undefined;
if (kind === 'netpay') vendor = await netpay(app);
else if (kind === 'l402') {
  const rootKey = Buffer.from(env.NETPAY_BENCH_L402_KEY!, 'base64url');
  peer(app, 'authorization', (v) => l402Check(rootKey, v));
} else if (kind === 'x402') {
  const keys = JSON.parse(env.NETPAY_BENCH_X402_KEYS!) as Record<string, string>;
  peer(
    app,
    'x-payment',
    x402Gate(new Map(Object.entries(keys).map(([c, k]) => [c, Buffer.from(k, 'base64url')]))),
  );
}
app.get('/free', async (_req, reply) => reply.type('text/plain').send(BODY));
app.get('/paid', { config: { netpay: { amount: 1n } } }, async (_req, reply) =>
  reply.type('text/plain').send(BODY),
);
await app.listen({ port: 0, host: '127.0.0.1' });
const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

process.on('message', async (m: { type: string; timed?: boolean }) => {
  if (m.type === 'window-start') {
    timed = m.timed === true;
    threadsAtStart = threadTicks();
    counting = { requests: 0, cpu: process.cpuUsage() };
    loop.reset();
    loop.enable();
    inServer = createHistogram();
    process.send!({ type: 'window-started' });
  } else if (m.type === 'window-stop') {
    const used = process.cpuUsage(counting.cpu);
    loop.disable();
    const loopMaxMs = loop.max / 1e6;
    process.send!({
      type: 'window',
      cpuUs: used.user + used.system,
      systemUs: used.system,
      // Where the CPU went: the main thread, and the others.
      threads: Object.fromEntries(
        [...threadTicks()]
          .map(([name, t]) => [name, t - (threadsAtStart.get(name) ?? 0)])
          .filter(([, t]) => (t as number) > 0),
      ),
      requests: counting.requests,
      loopMaxMs,
      serverP99Ms: inServer.count > 0 ? inServer.percentile(99) / 1e6 : 0,
    });
  } else if (m.type === 'stats') {
    process.send!({ type: 'stats', coinsAccepted: vendor ? await vendor.coins() : 0 });
  } else if (m.type === 'stop') {
    await app.close();
    await vendor?.close();
    process.exit(0);
  }
});
process.send!({ type: 'ready', url, publicKey: vendor?.publicKey ?? '' });
