import { migrate } from '@netpay/db';
import { openTestDatabase, TEST_DATABASES } from '@netpay/db/testing';
import {
  decodeHeader,
  decodeX402Header,
  encodeHeader,
  encodeX402Header,
  HEADERS,
  type Payment,
  toBase64url,
  X402_HEADERS,
} from '@netpay/protocol';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boughtChain, type Customer, startWorld, type Vendor, type World } from '../../broker/test/world.ts';
import { createBrokerClient } from '../src/broker-client.ts';
import { createGate } from '../src/gate.ts';
import { netpayFastify } from '../src/http/fastify.ts';
import { createChainStore, VENDOR_MIGRATIONS } from '../src/store/store.ts';

/** The gate on a real Fastify server, paying with coins bought from the real broker. */
for (const kind of TEST_DATABASES) {
  describe(`vendor gate on Fastify [${kind}]`, () => {
    let w: World;
    let alice: Customer;
    let vendor: Vendor;
    let app: FastifyInstance;
    let url: string;
    let store: ReturnType<typeof createChainStore>;
    let served = 0;

    beforeAll(async () => {
      w = await startWorld(kind);
      alice = await w.newCustomer('reader', 1_000_000n, 100_000n);
      vendor = await w.newVendor();
      const db = await openTestDatabase(kind);
      await migrate(db, VENDOR_MIGRATIONS);
      store = createChainStore({ db, clock: w.clock });
      const broker = createBrokerClient({
        url: w.url,
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
      });
      app = Fastify();
      netpayFastify(app, gate);
      app.get('/article', { config: { netpay: { amount: 50n, description: 'one article' } } }, async () => {
        served++;
        return { text: 'the article' };
      });
      app.get('/broken', { config: { netpay: { amount: 10n } } }, async (_req, reply) =>
        reply.code(500).send({ oops: true }),
      );
      app.get('/free', async () => ({ free: true }));
      app.get('/other', { config: { netpay: { amount: 50n } } }, async () => ({ text: 'another article' }));
      await app.listen({ port: 0, host: '127.0.0.1' });
      url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
      onClose.push(() => db.close());
    });
    const onClose: (() => Promise<void>)[] = [];
    afterAll(async () => {
      await app?.close();
      for (const f of onClose) await f();
      await w?.close();
    });

    const buyChain = (n = 40, coinValue = '10') => boughtChain(w, alice, n, coinValue);

    const pay = (chainId: string, index: number, payword: Uint8Array): Payment => ({
      v: 1,
      parts: [{ chainId, index, payword: toBase64url(payword) }],
    });
    const get = (path: string, payment?: Payment | string) =>
      fetch(url + path, {
        headers: payment
          ? { [HEADERS.payment]: typeof payment === 'string' ? payment : encodeHeader(payment) }
          : {},
      });

    it('answers an unpaid request with 402 and machine-readable terms, in the body and a header', async () => {
      const r = await get('/article');
      expect(r.status).toBe(402);
      const body = await r.json();
      expect(body).toMatchObject({
        code: 'payment_required',
        terms: { price: '50', currency: 'USD', exponent: 4, vendorId: vendor.id },
      });
      const header = Buffer.from(r.headers.get(HEADERS.terms)!, 'base64url').toString('utf8');
      expect(JSON.parse(header)).toEqual(body.terms);
      expect((await get('/free')).status).toBe(200);
    });

    it('serves a paid request with a receipt, and the same payment retried without a second charge', async () => {
      const c = await buyChain();
      const before = served;
      const r = await get('/article', pay(c.chainId, 5, c.words[5]!));
      expect(r.status).toBe(200);
      expect(await r.json()).toEqual({ text: 'the article' });
      const receipt = decodeHeader('receipt', r.headers.get(HEADERS.receipt));
      expect(receipt.ok && receipt.value).toMatchObject({
        amount: '50',
        parts: [{ chainId: c.chainId, index: 5, coins: 5 }],
      });
      const again = await get('/article', pay(c.chainId, 5, c.words[5]!));
      expect(again.status).toBe(200);
      expect(again.headers.get(HEADERS.receipt)).toBe(r.headers.get(HEADERS.receipt));
      expect(served - before).toBe(2);
      expect((await store.get(c.chainId))!.acceptedIndex).toBe(5);
      const next = await get('/article', pay(c.chainId, 10, c.words[10]!));
      expect(next.status).toBe(200);
      expect((await store.get(c.chainId))!.acceptedIndex).toBe(10);
    });

    it('speaks x402 too: PAYMENT-REQUIRED names a netpay entry, PAYMENT-SIGNATURE pays, PAYMENT-RESPONSE settles', async () => {
      const unpaid = await get('/article');
      const required = decodeX402Header('payment-required', unpaid.headers.get(X402_HEADERS.required));
      expect(required.ok && required.value).toMatchObject({
        x402Version: 2,
        resource: { url: expect.stringContaining('/article') },
        accepts: [
          {
            scheme: 'netpay',
            network: expect.stringMatching(/^netpay:/),
            asset: 'USD',
            amount: '50',
            payTo: vendor.id,
            extra: { vendorId: vendor.id, currency: 'USD', exponent: 4 },
          },
        ],
      });
      const accepted = required.ok ? required.value.accepts[0]! : undefined;
      const c = await buyChain();
      const signed = (scheme: string, payment: Payment) =>
        fetch(`${url}/article`, {
          headers: {
            [X402_HEADERS.signature]: encodeX402Header({
              x402Version: 2,
              accepted: { ...accepted, scheme },
              payload: { payment },
            }),
          },
        });
      const r = await signed('netpay', pay(c.chainId, 5, c.words[5]!));
      expect(r.status).toBe(200);
      const settled = decodeX402Header('payment-response', r.headers.get(X402_HEADERS.response));
      expect(settled.ok && settled.value).toMatchObject({
        success: true,
        network: accepted?.network,
        amount: '50',
        transaction: r.headers.get(HEADERS.receipt),
      });
      // The same payload again is a retry (same answer, no second charge); another scheme is not ours.
      expect((await signed('netpay', pay(c.chainId, 5, c.words[5]!))).status).toBe(200);
      expect((await store.get(c.chainId))!.acceptedIndex).toBe(5);
      const other = await signed('exact', pay(c.chainId, 10, c.words[10]!));
      expect([other.status, (await other.json()).code]).toEqual([400, 'malformed']);
      const garbage = await fetch(`${url}/article`, { headers: { [X402_HEADERS.signature]: 'not base64!' } });
      expect([garbage.status, (await garbage.json()).code]).toEqual([400, 'malformed']);
      expect((await store.get(c.chainId))!.acceptedIndex).toBe(5);
    });

    it('serves a retried payment again only for the resource it paid for', async () => {
      const c = await buyChain();
      expect((await get('/article', pay(c.chainId, 5, c.words[5]!))).status).toBe(200);
      const elsewhere = await get('/other', pay(c.chainId, 5, c.words[5]!));
      expect(elsewhere.status).toBe(409);
      expect((await elsewhere.json()).code).toBe('payment_conflict');
      const head = await fetch(`${url}/article`, {
        method: 'HEAD',
        headers: { [HEADERS.payment]: encodeHeader(pay(c.chainId, 10, c.words[10]!)) },
      });
      expect(head.status).toBe(402);
      expect((await store.get(c.chainId))!.acceptedIndex).toBe(5);
    });

    it('refuses forged, stale, short, excess and malformed payments, recording nothing', async () => {
      const c = await buyChain();
      expect((await get('/article', pay(c.chainId, 5, c.words[5]!))).status).toBe(200);
      const cases: [Payment | string, number, string][] = [
        [pay(c.chainId, 10, c.words[11]!), 402, 'payword_invalid'],
        [pay(c.chainId, 4, c.words[4]!), 409, 'index_not_advancing'],
        [pay(c.chainId, 9, c.words[9]!), 402, 'insufficient_payment'],
        [pay(c.chainId, 11, c.words[11]!), 402, 'overpayment'],
        ['not-a-payment!', 400, 'malformed'],
        [encodeHeader({ v: 1, parts: [] }), 400, 'malformed'],
      ];
      for (const [payment, status, code] of cases) {
        const r = await get('/article', payment);
        expect(r.status, code).toBe(status);
        expect((await r.json()).code).toBe(code);
      }
      expect((await store.get(c.chainId))!.acceptedIndex).toBe(5);
    });

    it('does not charge when the handler fails', async () => {
      const c = await buyChain();
      const r = await get('/broken', pay(c.chainId, 1, c.words[1]!));
      expect(r.status).toBe(500);
      expect(r.headers.get(HEADERS.receipt)).toBeNull();
      expect((await store.get(c.chainId))!.acceptedIndex).toBe(0);
      expect((await get('/article', pay(c.chainId, 5, c.words[5]!))).status).toBe(200);
    });

    it('accepts each coin once when the same payment races itself', async () => {
      const c = await buyChain();
      const results = await Promise.all(
        [1, 2, 3, 4].map(() => get('/article', pay(c.chainId, 5, c.words[5]!))),
      );
      // The first is charged; the others are the same payment retried: served again, charged nothing.
      expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200]);
      expect((await store.get(c.chainId))!.acceptedIndex).toBe(5);
      const rival = await Promise.all([
        get('/article', pay(c.chainId, 10, c.words[10]!)),
        get('/article', pay(c.chainId, 10, c.words[10]!)),
      ]);
      expect(rival.map((r) => r.status)).toEqual([200, 200]);
      expect((await store.get(c.chainId))!.acceptedIndex).toBe(10);
    });

    it('lets the vendor redeem what it accepted', async () => {
      const c = await buyChain();
      expect((await get('/article', pay(c.chainId, 5, c.words[5]!))).status).toBe(200);
      const claim = await import('@netpay/protocol').then(({ signMessage }) =>
        signMessage(
          'claim',
          {
            v: 1,
            claimId: toBase64url(crypto.getRandomValues(new Uint8Array(16))),
            vendorId: vendor.id,
            chainId: c.chainId,
            from: { index: 0, payword: toBase64url(c.words[0]!) },
            to: { index: 5, payword: toBase64url(c.words[5]!) },
            issuedAt: Math.floor(w.clock() / 1000),
          },
          vendor.signer,
        ),
      );
      const r = await w.call('POST', '/redemptions', {
        signer: w.asVendor(vendor),
        body: { claims: [claim] },
      });
      expect(r.body.results[0]).toMatchObject({ status: 'credited', amount: '50' });
      await w.audit();
    });
  });
}
