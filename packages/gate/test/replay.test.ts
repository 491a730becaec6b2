/**
 * The retry window (docs/protocol.md §7.4): the same payment sent again for the same resource is answered
 * again without a charge, but only within `replayWindowSeconds` of its acceptance and only for that
 * resource at that price; after the window, or elsewhere, it is a payment_conflict.
 */
import { encodeHeader, HEADERS, type Payment, toBase64url } from '@netpay/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boughtChain, type Customer, startWorld, type World } from '../../broker/test/world.ts';
import { DEFAULT_REPLAY_WINDOW_SECONDS } from '../src/deps.ts';
import { type FaultProxy, NO_FAULTS, startFaultProxy, zeroCounts } from './fault-proxy.ts';
import { type RunningVendor, startVendor } from './vendor-world.ts';

describe('the gate answers a retried payment again only within its window', () => {
  let w: World;
  let alice: Customer;
  const sites: RunningVendor[] = [];
  const onClose: (() => Promise<void>)[] = [];

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
    // The default window; no retries; the default window, reaching the broker through the proxy.
    sites.push(
      await startVendor(w, 'pglite'),
      await startVendor(w, 'pglite', 50n, { replayWindowSeconds: 0 }),
      await startVendor(w, 'pglite', 50n, { brokerUrl: proxy.url }),
    );
  });
  afterAll(async () => {
    for (const v of sites) await v.close();
    for (const f of onClose) await f();
    await w?.close();
  });

  const buyChain = (n = 40) => boughtChain(w, alice, n);
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
    const first = await get(`${url}/item?article`, payment);
    expect(first.status).toBe(200);
    const before = served();

    w.advance(60_000);
    const retry = await get(`${url}/item?article`, payment);
    expect(retry).toMatchObject({ status: 200, receipt: first.receipt });
    expect(served() - before).toBe(1);

    // The same header for another resource buys nothing.
    const elsewhere = await get(`${url}/item?other`, payment);
    expect(elsewhere.status).toBe(409);
    expect(elsewhere.body.code).toBe('payment_conflict');

    // Past the window it is a conflict too, and nothing more is served.
    w.advance((DEFAULT_REPLAY_WINDOW_SECONDS - 60 + 1) * 1000);
    const late = await get(`${url}/item?article`, payment);
    expect(late.status).toBe(409);
    expect(late.body).toMatchObject({ code: 'payment_conflict' });
    expect(late.body.message).toContain(`within ${DEFAULT_REPLAY_WINDOW_SECONDS} s`);
    expect(served() - before).toBe(1);

    // The chain pays on from where it was.
    expect((await get(`${url}/item?article`, pay(c.chainId, 10, c.words[10]!))).status).toBe(200);
  });

  it('answers a retry after its lease ran out while the broker is out of reach (it accepts nothing new)', async () => {
    const { url, served } = sites[2]!;
    const c = await buyChain();
    const payment = pay(c.chainId, 5, c.words[5]!);
    const first = await get(`${url}/item?article`, payment);
    expect(first.status).toBe(200);
    w.advance(30_000); // the lease (10 s) has run out
    brokerDown = true;
    try {
      const retry = await get(`${url}/item?article`, payment);
      expect(retry).toMatchObject({ status: 200, receipt: first.receipt });
      expect(served()).toBe(2);
      // New coins need the lease, so the broker: refused, nothing charged.
      const next = await get(`${url}/item?article`, pay(c.chainId, 10, c.words[10]!));
      expect([next.status, next.body.code]).toEqual([503, 'broker_unavailable']);
    } finally {
      brokerDown = false;
    }
    expect((await get(`${url}/item?article`, pay(c.chainId, 10, c.words[10]!))).status).toBe(200);
  });

  it('with replayWindowSeconds 0 never serves a payment twice', async () => {
    const { url, served } = sites[1]!;
    const c = await buyChain();
    const payment = pay(c.chainId, 5, c.words[5]!);
    expect((await get(`${url}/item?article`, payment)).status).toBe(200);
    const before = served();
    w.advance(1_000);
    const again = await get(`${url}/item?article`, payment);
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('payment_conflict');
    expect(served()).toBe(before);
  });
});
