/**
 * x402 benchmark (`npm run bench`, or `npm run -s bench -- x402` alone; issue 17): the server's own CPU per
 * request through unmodified `@x402/express` (paymentMiddleware with the NetPay scheme: x402's resource
 * server, NetPay's in-process facilitator verifying with gate.begin and settling with gate.finish), beside
 * the same route priced through NetPay's own Express adapter and an unpaid one — what x402's middleware
 * costs around NetPay's one-hash check.
 *
 * On the vendor benchmark's harness (packages/gate/bench/harness.ts): a broker in this process; one server
 * process (server-process.ts: Express, one NetPay vendor as `netpay vendor start` opens it) measuring
 * process.cpuUsage() inside itself per window; autocannon in a process of its own sending pre-made
 * headers. Both paid routes cost PRICE, paid with one coin of PRICE per request (one payword, one hash),
 * from chains bought for the run and held by the vendor (each paid once through the directory first):
 * `NetPay-Payment` headers for the NetPay route and, for the x402 route, `PAYMENT-SIGNATURE` headers (an
 * x402 PaymentPayload whose `accepted` is the requirement of the route's 402 PAYMENT-REQUIRED and whose
 * payload is `{payment}`). Every window, warm-up included, pays from chains of its own, so no payword is
 * ever sent twice (one in flight when a window ends is dropped with the rest of its chain).
 *
 * A warm-up of WARMUP_SECONDS of each kind (its rate sizes the windows' chains), then WINDOWS windows of
 * each, interleaved (unpaid, NetPay, x402) so the machine's noise hits them alike; every figure is the
 * median of a kind's windows, with the windows beside.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  decodeHeader,
  decodeX402Header,
  encodeX402Header,
  X402_HEADERS,
  X402_SCHEME,
  X402_VERSION,
} from '@netpay/protocol';
import {
  type Broker,
  broker,
  CONNECTIONS,
  generator,
  heldChains,
  median,
  round,
  type Server,
  saturate,
  server,
  WINDOW_SECONDS,
  WINDOWS,
} from '../../gate/bench/harness.ts';
import type { Payment } from '../../gate/bench/load-process.ts';

/** The price of both paid routes, minor units, and the coin value of the chains paying it. */
const PRICE = 10n;
/** Chains a window of a paid kind pays from: one per connection (a request takes a free one), a few spare. */
const CHAINS = CONNECTIONS + 4;
/** Each kind's warm-up (its rate sizes the windows' chains), and the coins per chain it may spend. */
const WARMUP_SECONDS = 1;
const WARMUP_COINS = 200;
/**
 * The least coins per chain of a measured window, per paid kind: a warm-up on a busy machine may be much
 * slower than the windows after it (these cover 7,000 and 3,500 requests a second).
 */
const MIN_COINS = { netpayExpress: 600, x402Netpay: 300 } as const;
const KINDS = ['unpaid', 'netpayExpress', 'x402Netpay'] as const;
type Kind = (typeof KINDS)[number];
type PaidKind = Exclude<Kind, 'unpaid'>;
type Measured = Awaited<ReturnType<Server['window']>>;
const PATHS: Record<Kind, string> = { unpaid: '/free', netpayExpress: '/paid', x402Netpay: '/item' };

/**
 * The x402 route's payments: each NetPay-Payment value of `held` as a PAYMENT-SIGNATURE value, an x402
 * PaymentPayload accepting the requirement the route's 402 offers, its payload the NetPay payment.
 */
async function asX402(url: string, held: Payment): Promise<Payment> {
  const res = await fetch(url);
  await res.arrayBuffer();
  const required = decodeX402Header('payment-required', res.headers.get(X402_HEADERS.required));
  if (res.status !== 402 || !required.ok)
    throw new Error(`${url} answered ${res.status} without a PAYMENT-REQUIRED the bench can read`);
  const accepted = required.value.accepts.find((r) => r.scheme === X402_SCHEME);
  if (!accepted) throw new Error(`${url} offers no ${X402_SCHEME} requirement`);
  const resource = required.value.resource;
  const signature = (header: string) => {
    const payment = decodeHeader('payment', header);
    if (!payment.ok) throw new Error(payment.error.message);
    return encodeX402Header({
      x402Version: X402_VERSION,
      resource,
      accepted,
      payload: { payment: payment.value },
    });
  };
  return {
    header: X402_HEADERS.signature,
    sequences: (held.sequences ?? []).map((s) => s.map(signature)),
  };
}

/** One x402 payment sent by hand: answered 200 with a successful PAYMENT-RESPONSE, or the bench stops. */
async function probe(url: string, payment: Payment) {
  const res = await fetch(url, { headers: { [payment.header]: payment.sequences![0]![0]! } });
  const body = await res.text();
  const settled = decodeX402Header('payment-response', res.headers.get(X402_HEADERS.response));
  if (res.status !== 200 || !settled.ok || !settled.value.success)
    throw new Error(`an x402 payment was answered ${res.status}: ${body.slice(0, 300)}`);
}

/** Chains of `coins` held by the vendor, as the payments of one window of `kind`. */
async function payment(brk: Broker, v: Server, kind: PaidKind, coins: number): Promise<Payment> {
  const held = await heldChains(brk, v, CHAINS, coins, PRICE);
  return kind === 'x402Netpay' ? asX402(`${v.url}${PATHS.x402Netpay}`, held) : held;
}

/** The medians of a kind's windows. */
const summary = (ws: readonly Measured[]) => ({
  cpuUs: round(median(ws.map((w) => w.cpuUsPerRequest))),
  systemUs: round(median(ws.map((w) => w.systemUsPerRequest))),
  rps: median(ws.map((w) => w.requestsPerSec)),
  p99Ms: median(ws.map((w) => w.p99Ms)),
  loopMaxMs: round(median(ws.map((w) => w.loopMaxMs))),
  windowsCpuUs: ws.map((w) => round(w.cpuUsPerRequest)),
  answered: ws.reduce((a, w) => a + w.requests, 0),
  non2xx: ws.reduce((a, w) => a + w.non2xx, 0),
});

const log = (m: string) => process.stderr.write(`bench: x402: ${m}\n`);

export async function runX402Bench() {
  const t0 = performance.now();
  const brk = await broker();
  const dataDir = mkdtempSync(join(tmpdir(), 'netpay-bench-x402-'));
  try {
    const v = await server(
      brk,
      'bench-x402',
      { NETPAY_BENCH_DATA: dataDir, NETPAY_BENCH_PRICE: String(PRICE) },
      '../../x402/bench/server-process.ts',
    );
    const load = await generator();
    try {
      log(`broker, server and generator up (${round((performance.now() - t0) / 1000)} s)`);
      const url = (kind: Kind) => `${v.url}${PATHS[kind]}`;
      await probe(url('x402Netpay'), await asX402(url('x402Netpay'), await heldChains(brk, v, 1, 2, PRICE)));
      // Warm-up: WARMUP_SECONDS of each kind, each paid one from chains of its own.
      const warmRps: Record<Kind, number> = { unpaid: 0, netpayExpress: 0, x402Netpay: 0 };
      for (const kind of KINDS) {
        if (kind !== 'unpaid') await load.pay(await payment(brk, v, kind, WARMUP_COINS));
        const warm = await load.run({ ...saturate(url(kind), kind !== 'unpaid'), seconds: WARMUP_SECONDS });
        if (warm.non2xx > 0) throw new Error(`${kind}: ${warm.non2xx} of the warm-up's answers were not 2xx`);
        warmRps[kind] = warm.requestsPerSec;
      }
      // Each window's chains: four times what a window at the warm-up's rate (a cold one) spends, or more.
      const sets: Record<PaidKind, Payment[]> = { netpayExpress: [], x402Netpay: [] };
      for (let i = 0; i < WINDOWS; i++)
        for (const kind of ['netpayExpress', 'x402Netpay'] as const) {
          const coins = Math.max(
            MIN_COINS[kind],
            Math.ceil((4 * warmRps[kind] * WINDOW_SECONDS) / CHAINS) + 2,
          );
          sets[kind].push(await payment(brk, v, kind, coins));
        }
      await v.coinsAccepted(); // the vendor's journal written behind before the windows
      log(
        `warmed up at ${JSON.stringify(warmRps)} req/s, chains held (${round((performance.now() - t0) / 1000)} s)`,
      );
      const runs: Record<Kind, Measured[]> = { unpaid: [], netpayExpress: [], x402Netpay: [] };
      for (let i = 0; i < WINDOWS; i++)
        for (const kind of KINDS) {
          if (kind !== 'unpaid') await load.pay(sets[kind][i]!);
          runs[kind].push(await v.window(() => load.run(saturate(url(kind), kind !== 'unpaid'))));
        }
      log(`windows done (${round((performance.now() - t0) / 1000)} s)`);
      const coinsAccepted = await v.coinsAccepted();
      const s = {
        unpaid: summary(runs.unpaid),
        netpayExpress: summary(runs.netpayExpress),
        x402Netpay: summary(runs.x402Netpay),
      };
      const each = <T>(f: (k: (typeof s)[Kind]) => T) => ({
        x402Netpay: f(s.x402Netpay),
        netpayExpress: f(s.netpayExpress),
        unpaid: f(s.unpaid),
      });
      return {
        method: `Express 5, one process, three GET routes returning 1 KiB: /item behind @x402/express paymentMiddleware (unmodified, mounted on the route) with the NetPay scheme (netpayX402: x402's resource server, the in-process facilitator: verify = gate.begin, settle = gate.finish), /paid behind @netpay/vendor/express, /free unpaid; both paid routes ${PRICE} minor units, one coin of ${PRICE} per request (one payword, never sent twice: fresh chains every window), x402 as PAYMENT-SIGNATURE (PaymentPayload, accepted = the 402's PAYMENT-REQUIRED requirement, payload {payment}), NetPay as NetPay-Payment; vendor as \`netpay vendor start\` opens it (PGlite on a thread, the journal: durable by group fdatasync); autocannon ${CONNECTIONS} connections in its own process; a ${WARMUP_SECONDS} s warm-up of each, then ${WINDOWS} windows of ${WINDOW_SECONDS} s per kind, interleaved, medians; server CPU from process.cpuUsage() inside the server process`,
        serverCpuUs: each((k) => k.cpuUs),
        ratio: round(s.x402Netpay.cpuUs / s.netpayExpress.cpuUs, 2),
        /** What x402's middleware adds per request around NetPay's check, µs of server CPU. */
        x402OverheadUs: round(s.x402Netpay.cpuUs - s.netpayExpress.cpuUs),
        rps: each((k) => k.rps),
        systemUs: each((k) => k.systemUs),
        p99Ms: each((k) => k.p99Ms),
        loopMaxMs: each((k) => k.loopMaxMs),
        windowsCpuUs: each((k) => k.windowsCpuUs),
        checks: {
          non2xx: each((k) => k.non2xx),
          answered: each((k) => k.answered),
          coinsAccepted,
        },
      };
    } finally {
      load.stop();
      await v.stop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
    await brk.b.app.close();
    await brk.db.close();
  }
}
