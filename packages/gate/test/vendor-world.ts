/** A real vendor server (Fastify + the gate) registered at the test world's broker with its own URL. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { migrate } from '@netpay/db';
import { openTestDatabase, type TestDatabaseKind } from '@netpay/db/testing';
import {
  createSigner,
  encodeHeader,
  HEADERS,
  type Payment,
  randomBytes,
  toBase64url,
} from '@netpay/protocol';
import Fastify from 'fastify';
import { expect } from 'vitest';
import type { World } from '../../broker/test/world.ts';
import { createBrokerClient } from '../src/broker-client.ts';
import { createGate } from '../src/gate.ts';
import { netpayFastify } from '../src/http/fastify.ts';
import { createRedeemer } from '../src/redeem/redeemer.ts';
import { createChainStore, VENDOR_MIGRATIONS } from '../src/store/store.ts';

let counter = 0;

/**
 * A front for a vendor's URL as the broker and other vendors see it: passes requests on, drops them
 * (the vendor is down or partitioned away), or holds them until released (the vendor is slow but alive).
 */
export async function startFront(target: () => string) {
  let mode: 'pass' | 'drop' | 'hold' = 'pass';
  let held: (() => void)[] = [];
  const server = createServer((req, res) => {
    if (mode === 'drop') {
      req.socket.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      if (mode === 'hold') await new Promise<void>((r) => held.push(r));
      try {
        const r = await fetch(target() + req.url, {
          method: req.method ?? 'GET',
          headers: { 'content-type': req.headers['content-type'] ?? 'application/json' },
          ...(req.method === 'GET' ? {} : { body: Buffer.concat(chunks) }),
        });
        res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/json' });
        res.end(Buffer.from(await r.arrayBuffer()));
      } catch {
        res.destroy();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    set(m: 'pass' | 'drop' | 'hold') {
      mode = m;
    },
    /** How many requests it holds now. */
    holding: () => held.length,
    /** Lets the held requests through (they reach the vendor late). */
    release() {
      const now = held;
      held = [];
      for (const r of now) r();
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export async function startVendor(
  w: World,
  kind: TestDatabaseKind,
  price = 50n,
  options: {
    front?: boolean;
    /** Where the vendor, and wallets told by its terms, reach the broker (a proxy); default the broker's URL. */
    brokerUrl?: string;
    /** Puts something in front of the vendor's URL; the URL it gives is the one registered (advertised). */
    frontWith?: (target: () => string) => Promise<{ url: string; close(): Promise<void> }>;
    /** The bank account its settlements are paid to (none: it is not paid out). */
    bankAccount?: string;
    /** createGate's retry window, in seconds (default 300). */
    replayWindowSeconds?: number;
  } = {},
) {
  const id = `shop-${++counter}-${toBase64url(randomBytes(3))}`;
  const signer = createSigner(randomBytes(32));
  const db = await openTestDatabase(kind);
  let url = '';
  await migrate(db, VENDOR_MIGRATIONS);
  const store = createChainStore({ db, clock: w.clock });
  const broker = createBrokerClient({
    url: options.brokerUrl ?? w.url,
    vendorId: id,
    signer,
    clock: w.clock,
  });
  const gate = createGate({
    vendorId: id,
    signer,
    broker,
    brokerUrl: options.brokerUrl ?? w.url,
    store,
    currency: { code: 'USD', exponent: 4 },
    clock: w.clock,
    handoverTimeoutMs: 1_000,
    ...(options.replayWindowSeconds !== undefined
      ? { replayWindowSeconds: options.replayWindowSeconds }
      : {}),
    // Known once listening: the terms then offer the server-side wallet sign-in too.
    publicUrl: () => url,
  });
  const app = Fastify();
  netpayFastify(app, gate);
  let served = 0;
  app.get('/item', { config: { netpay: { amount: price } } }, async () => {
    served++;
    return { from: id };
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const front = options.front ? await startFront(() => url) : undefined;
  const wrapped = options.frontWith ? await options.frontWith(() => url) : undefined;
  const reg = await w.call('POST', '/parties', {
    signer: { id, signer },
    body: {
      id,
      name: id,
      publicKey: toBase64url(signer.publicKey),
      url: wrapped?.url ?? front?.url ?? url,
      ...(options.bankAccount ? { bankAccount: options.bankAccount } : {}),
    },
  });
  expect(reg.status, JSON.stringify(reg.body)).toBe(201);
  const redeemer = createRedeemer({ vendorId: id, signer, broker, store, clock: w.clock });
  return {
    id,
    signer,
    url,
    db,
    store,
    gate,
    front,
    redeemer,
    /** The URL registered at the broker: where wallets, the broker and other vendors reach it. */
    advertised: wrapped?.url ?? front?.url ?? url,
    served: () => served,
    buy: (payment: Payment) =>
      fetch(`${url}/item`, { headers: { [HEADERS.payment]: encodeHeader(payment) } }),
    async close() {
      await front?.close();
      await wrapped?.close();
      await app.close();
      await db.close();
    },
  };
}

export type RunningVendor = Awaited<ReturnType<typeof startVendor>>;
