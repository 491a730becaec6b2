/**
 * The server of the x402 benchmark (x402.bench.ts), in a process of its own as the vendor benchmark's
 * (packages/gate/bench/vendor-process.ts) and speaking the same messages, so its harness measures it: one
 * Express app, one NetPay vendor (openVendor: key, PGlite on a thread with the journal, as `netpay vendor
 * start` runs it), three routes returning the same 1 KiB:
 *
 *   GET /item  priced NETPAY_BENCH_PRICE through unmodified `@x402/express`: paymentMiddleware with the
 *              NetPay scheme (netpayX402: x402's resource server, the in-process facilitator over the gate)
 *   GET /paid  the same price through NetPay's own Express adapter (`@netpay/vendor/express`)
 *   GET /free  unpaid
 *
 * Each middleware is mounted on its route only, so the other routes carry none of its cost. Reads
 * NETPAY_BENCH_BROKER, NETPAY_BENCH_VENDOR, NETPAY_BENCH_DATA (the vendor's data folder) and
 * NETPAY_BENCH_PRICE.
 *
 * Messages from the parent: `window-start` notes this process's CPU time (process.cpuUsage()) and starts
 * counting responses; `window-stop` answers with the CPU microseconds and responses since. `stats` answers
 * the coins accepted. On `stop` it prints the paid requests it refused, if any, by route, status and error.
 */
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { decodeX402Header, HEADERS, toBase64url, X402_HEADERS } from '@netpay/protocol';
import { netpayExpress } from '@netpay/vendor/express';
import { openVendor } from '@netpay/vendor/server';
import { paymentMiddleware } from '@x402/express';
import express, { type RequestHandler } from 'express';
import { netpayX402 } from '../src/index.ts';

const BODY = 'x'.repeat(1024);
const env = process.env;
/** The price of both paid routes, minor units (the benchmark pays it with one coin: one payword, one hash). */
const PRICE = BigInt(env.NETPAY_BENCH_PRICE!);
const name = env.NETPAY_BENCH_VENDOR!;

const vendor = await openVendor({
  vendorId: name,
  brokerUrl: env.NETPAY_BENCH_BROKER!,
  currency: { code: 'USD', exponent: 4 },
  dataDir: env.NETPAY_BENCH_DATA!,
});
// As `netpay vendor start` runs it: backups of the chains in use every 3 s, redemption every minute.
const stopRedeemer = vendor.redeemer.start(60_000);
const netpay = await netpayX402({ vendor });

let counting = { requests: 0, cpu: process.cpuUsage() };
const loop = monitorEventLoopDelay({ resolution: 5 });

const app = express();
app.disable('x-powered-by');
app.disable('etag');
/** Paid requests not answered 2xx, by route, status and the refusal's error (printed when it stops). */
const refused = new Map<string, number>();
const PAID_BY = [X402_HEADERS.signature, HEADERS.payment].map((h) => h.toLowerCase());
app.use((req, res, next) => {
  res.once('finish', () => {
    counting.requests++;
    if (res.statusCode < 300) return;
    if (!PAID_BY.some((h) => req.headers[h])) return;
    const required = decodeX402Header('payment-required', String(res.getHeader(X402_HEADERS.required) ?? ''));
    const key = `${req.path} ${res.statusCode} ${required.ok ? (required.value.error ?? '') : ''}`;
    refused.set(key, (refused.get(key) ?? 0) + 1);
  });
  next();
});
const send: RequestHandler = (_req, res) => {
  res.type('text/plain').send(BODY);
};
app.get('/free', send);
app.get('/paid', netpayExpress(vendor.gate, { amount: PRICE }), send);
app.get(
  '/item',
  paymentMiddleware({ 'GET /item': { accepts: [netpay.accepts(PRICE.toString())] } }, netpay.server),
  send,
);
const http = app.listen(0, '127.0.0.1');
await new Promise((r) => http.once('listening', r));
const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;

const coins = async () => {
  await vendor.store.statement(); // the journal's coins written behind first
  const [row] = await vendor.db.query<{ coins: bigint }>(
    'SELECT COALESCE(sum(accepted_index - start_index), 0)::int8 AS coins FROM vendor_chains',
  );
  return Number(row?.coins ?? 0n);
};

process.on('message', async (m: { type: string }) => {
  if (m.type === 'window-start') {
    counting = { requests: 0, cpu: process.cpuUsage() };
    loop.reset();
    loop.enable();
    process.send!({ type: 'window-started' });
  } else if (m.type === 'window-stop') {
    const used = process.cpuUsage(counting.cpu);
    loop.disable();
    process.send!({
      type: 'window',
      cpuUs: used.user + used.system,
      systemUs: used.system,
      threads: {},
      requests: counting.requests,
      loopMaxMs: loop.max / 1e6,
      serverP99Ms: 0,
    });
  } else if (m.type === 'stats') {
    process.send!({ type: 'stats', coinsAccepted: await coins() });
  } else if (m.type === 'stop') {
    if (refused.size > 0)
      process.stderr.write(`bench: x402: paid requests not answered 2xx: ${JSON.stringify([...refused])}\n`);
    http.closeAllConnections();
    await new Promise((r) => http.close(r));
    stopRedeemer();
    await vendor.store.close();
    await vendor.db.close();
    process.exit(0);
  }
});
process.send!({ type: 'ready', url, publicKey: toBase64url(vendor.signer.publicKey) });
