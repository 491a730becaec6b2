/**
 * One vendor server for the benchmark, in a process of its own (forked by vendor.bench.ts) so the load
 * generator and the broker do not share its event loop. Reads NETPAY_BENCH_BROKER, NETPAY_BENCH_VENDOR
 * and NETPAY_BENCH_DATA (a folder: PGlite on disk; absent: in memory). Tells the parent its URL and
 * public key once listening; answers { type: 'stats' } with the coins it accepted.
 */
import type { AddressInfo } from 'node:net';
import { migrate, openDatabase } from '@netpay/db';
import { createSigner, randomBytes, toBase64url } from '@netpay/protocol';
import Fastify from 'fastify';
import { createBrokerClient } from '../src/broker-client.ts';
import { createGate } from '../src/gate.ts';
import { netpayFastify } from '../src/http/fastify.ts';
import { createChainStore, VENDOR_MIGRATIONS } from '../src/store/store.ts';

const BODY = 'x'.repeat(1024);
const brokerUrl = process.env.NETPAY_BENCH_BROKER!;
const name = process.env.NETPAY_BENCH_VENDOR!;
const dataDir = process.env.NETPAY_BENCH_DATA;

const signer = createSigner(randomBytes(32));
const databaseUrl = process.env.NETPAY_BENCH_DATABASE_URL;
const db = await openDatabase(
  databaseUrl
    ? { url: databaseUrl }
    : { ...(dataDir ? { dataDir } : {}), thread: process.env.NETPAY_BENCH_THREAD === '1' },
);
await migrate(db, VENDOR_MIGRATIONS);
const store = createChainStore({ db });
const gate = createGate({
  vendorId: name,
  signer,
  broker: createBrokerClient({ url: brokerUrl, vendorId: name, signer }),
  brokerUrl,
  store,
  currency: { code: 'USD', exponent: 4 },
});
const app = Fastify();
netpayFastify(app, gate);
app.get('/free', async (_req, reply) => reply.type('text/plain').send(BODY));
app.get('/paid', { config: { netpay: { amount: 1n } } }, async (_req, reply) =>
  reply.type('text/plain').send(BODY),
);
await app.listen({ port: 0, host: '127.0.0.1' });
const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

process.on('message', async (m: { type: string }) => {
  if (m.type === 'stats') {
    const [row] = await db.query<{ coins: bigint }>(
      'SELECT COALESCE(sum(accepted_index - start_index), 0)::int8 AS coins FROM vendor_chains',
    );
    process.send!({ type: 'stats', coinsAccepted: Number(row?.coins ?? 0n) });
  } else if (m.type === 'stop') {
    await app.close();
    await db.close();
    process.exit(0);
  }
});
process.send!({ type: 'ready', url, publicKey: toBase64url(signer.publicKey) });
