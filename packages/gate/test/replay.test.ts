/**
 * The retry window (docs/protocol.md §7.4): the same payment sent again for the same resource is answered
 * again without a charge, but only within `replayWindowSeconds` of its acceptance and only for that
 * resource at that price; after the window, or elsewhere, it is a payment_conflict.
 */
import { migrate } from '@netpay/db';
import { openTestDatabase } from '@netpay/db/testing';
import { encodeHeader, fromBase64url, HEADERS, type Payment, toBase64url } from '@netpay/protocol';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Customer, clientChain, startWorld, type World } from '../../broker/test/world.ts';
import { createBrokerClient } from '../src/broker-client.ts';
import { DEFAULT_REPLAY_WINDOW_SECONDS } from '../src/deps.ts';
import { createGate } from '../src/gate.ts';
import { netpayFastify } from '../src/http/fastify.ts';
import { createChainStore, VENDOR_MIGRATIONS } from '../src/store/store.ts';
import { type FaultProxy, NO_FAULTS, startFaultProxy, zeroCounts } from './fault-proxy.ts';

describe('the gate answers a retried payment again only within its window', () => {
  let w: World;
  let alice: Customer;
  const sites: { url: string; served: () => number }[] = [];
  const onClose: (() => Promise<void>)[] = [];

  /**
   * A vendor's gate on Fastify, with its own store and the given window (undefined: the default); its calls
   * to the broker go through `brokerVia` when given.
   */
  async function site(replayWindowSeconds?: number, brokerVia?: string) {
    const vendor = await w.newVendor();
    const db = await openTestDatabase('pglite');
    await migrate(db, VENDOR_MIGRATIONS);
    const store = createChainStore({ db, clock: w.clock });
    const broker = createBrokerClient({
      url: brokerVia ?? w.url,
      vendorId: vendor.id,
      signer: vendor.signer,
      clock: w.clock,
    });
    const gate = createGate({
      vendorId: vendor.id,
      signer: vendor.signer,
      broker,
      brokerUrl: w.url,
      store,
      currency: { code: 'USD', exponent: 4 },
      clock: w.clock,
      ...(replayWindowSeconds !== undefined ? { replayWindowSeconds } : {}),
    });
    const app: FastifyInstance = Fastify();
    netpayFastify(app, gate);
    let served = 0;
    for (const path of ['/article', '/other']) {
      app.get(path, { config: { netpay: { amount: 50n } } }, async () => {
        served++;
        return { path };
      });
    }
    await app.listen({ port: 0, host: '127.0.0.1' });
    onClose.push(async () => {
      await app.close();
      await db.close();
    });
    return {
      url: `http://127.0.0.1:${(app.server.address() as { port: number }).port}`,
      served: () => served,
    };
  }

  /** The broker as site 2 reaches it: a plain proxy that can be cut off (every request dropped). */
  let brokerDown = false;
  let proxy: FaultProxy;

  beforeAll(async () => {
    w = await startWorld('pglite');
    alice = await w.newCustomer('reader', 1_000_000n, 100_000n);
    proxy = await startFaultProxy({
      name: 'vendor→broker',
      target: () => w.url,
      random: () => (brokerDown ? 0 : 1),
      counts: zeroCounts(),
    });
    proxy.setRates({ ...NO_FAULTS, drop: 1 }); // x < 1 only while brokerDown (random 0)
    onClose.push(() => proxy.close());
    sites.push(await site(), await site(0), await site(undefined, proxy.url));
  });
  afterAll(async () => {
    for (const f of onClose) await f();
    await w?.close();
  });

  async function buyChain(n = 40) {
    const chain = clientChain(n);
    const r = await w.call('POST', '/me/chains', {
      token: alice.token,
      body: { chains: [{ coinValue: '10', n, chainId: chain.chainId, root: chain.root }] },
    });
    expect(r.status).toBe(201);
    const words = [fromBase64url(chain.root)!];
    for (let i = 1; i <= n; i++) words.push(chain.traversal.next()!.payword);
    return { chainId: chain.chainId, words };
  }
  const pay = (chainId: string, index: number, payword: Uint8Array): Payment => ({
    v: 1,
    parts: [{ chainId, index, payword: toBase64url(payword) }],
  });
  const get = async (url: string, payment: Payment) => {
    const r = await fetch(url, { headers: { [HEADERS.payment]: encodeHeader(payment) } });
    return { status: r.status, body: await r.json(), receipt: r.headers.get(HEADERS.receipt) };
  };

  it(`serves the same payment again for ${DEFAULT_REPLAY_WINDOW_SECONDS} s, for that resource only`, async () => {
    const { url, served } = sites[0]!;
    const c = await buyChain();
    const payment = pay(c.chainId, 5, c.words[5]!);
    const first = await get(`${url}/article`, payment);
    expect(first.status).toBe(200);
    const before = served();

    w.advance(60_000);
    const retry = await get(`${url}/article`, payment);
    expect(retry).toMatchObject({ status: 200, receipt: first.receipt });
    expect(served() - before).toBe(1);

    // The same header for another resource buys nothing.
    const elsewhere = await get(`${url}/other`, payment);
    expect(elsewhere.status).toBe(409);
    expect(elsewhere.body.code).toBe('payment_conflict');

    // Past the window it is a conflict too, and nothing more is served.
    w.advance((DEFAULT_REPLAY_WINDOW_SECONDS - 60 + 1) * 1000);
    const late = await get(`${url}/article`, payment);
    expect(late.status).toBe(409);
    expect(late.body).toMatchObject({ code: 'payment_conflict' });
    expect(late.body.message).toContain(`within ${DEFAULT_REPLAY_WINDOW_SECONDS} s`);
    expect(served() - before).toBe(1);

    // The chain pays on from where it was.
    expect((await get(`${url}/article`, pay(c.chainId, 10, c.words[10]!))).status).toBe(200);
  });

  it('answers a retry after its lease ran out while the broker is out of reach (it accepts nothing new)', async () => {
    const { url, served } = sites[2]!;
    const c = await buyChain();
    const payment = pay(c.chainId, 5, c.words[5]!);
    const first = await get(`${url}/article`, payment);
    expect(first.status).toBe(200);
    w.advance(30_000); // the lease (10 s) has run out
    brokerDown = true;
    try {
      const retry = await get(`${url}/article`, payment);
      expect(retry).toMatchObject({ status: 200, receipt: first.receipt });
      expect(served()).toBe(2);
      // New coins need the lease, so the broker: refused, nothing charged.
      const next = await get(`${url}/article`, pay(c.chainId, 10, c.words[10]!));
      expect([next.status, next.body.code]).toEqual([503, 'broker_unavailable']);
    } finally {
      brokerDown = false;
    }
    expect((await get(`${url}/article`, pay(c.chainId, 10, c.words[10]!))).status).toBe(200);
  });

  it('with replayWindowSeconds 0 never serves a payment twice', async () => {
    const { url, served } = sites[1]!;
    const c = await buyChain();
    const payment = pay(c.chainId, 5, c.words[5]!);
    expect((await get(`${url}/article`, payment)).status).toBe(200);
    const before = served();
    w.advance(1_000);
    const again = await get(`${url}/article`, payment);
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('payment_conflict');
    expect(served()).toBe(before);
  });
});
