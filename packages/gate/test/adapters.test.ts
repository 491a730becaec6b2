import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { migrate } from '@netpay/db';
import { openTestDatabase } from '@netpay/db/testing';
import {
  decodeHeader,
  encodeHeader,
  fromBase64url,
  HEADERS,
  type Payment,
  randomBytes,
  toBase64url,
} from '@netpay/protocol';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Customer, clientChain, startWorld, type Vendor, type World } from '../../broker/test/world.ts';
import { createBrokerClient } from '../src/broker-client.ts';
import { createGate, type Gate } from '../src/gate.ts';
import { netpayExpress, netpayExpressHandover, netpayExpressWallet } from '../src/http/express.ts';
import { netpayFastify } from '../src/http/fastify.ts';
import { netpayHono, netpayHonoHandover, netpayHonoWallet } from '../src/http/hono.ts';
import { createChainStore, VENDOR_MIGRATIONS } from '../src/store/store.ts';

type Serve = (gate: Gate) => Promise<{ url: string; close: () => Promise<void> }>;

/**
 * The same routes on each framework: a priced article, a handler that fails, a text body with its own
 * content type, the hand-over route and the server-side wallet's routes. Every case below runs on all
 * three, so the adapters cannot drift.
 */
const ADAPTERS: Record<string, Serve> = {
  fastify: async (gate) => {
    const app = Fastify();
    netpayFastify(app, gate);
    app.get('/article', { config: { netpay: { amount: 50n } } }, async () => ({ text: 'the article' }));
    app.get('/broken', { config: { netpay: { amount: 10n } } }, async (_r, reply) =>
      reply.code(500).send({ oops: 1 }),
    );
    app.get('/stream', { config: { netpay: { amount: 10n } } }, async (_r, reply) =>
      reply.type('text/plain').send('one two three'),
    );
    await app.listen({ port: 0, host: '127.0.0.1' });
    return {
      url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`,
      close: () => app.close(),
    };
  },
  express: async (gate) => {
    const app = express();
    app.use(express.json());
    app.post(...netpayExpressHandover(gate));
    app.get(...netpayExpressWallet(gate));
    app.get('/article', netpayExpress(gate, { amount: 50n }), (_req, res) => {
      res.json({ text: 'the article' });
    });
    app.get('/broken', netpayExpress(gate, { amount: 10n }), (_req, res) => {
      res.status(500).json({ oops: 1 });
    });
    // A handler writing the low-level way: writeHead, several writes, end.
    app.get('/stream', netpayExpress(gate, { amount: 10n }), (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('one ');
      res.write('two ');
      res.end('three');
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: () => new Promise((r) => server.close(() => r())),
    };
  },
  hono: async (gate) => {
    const app = new Hono();
    netpayHonoHandover(app, gate);
    netpayHonoWallet(app, gate);
    app.get('/article', netpayHono(gate, { amount: 50n }), (c) => c.json({ text: 'the article' }));
    app.get('/broken', netpayHono(gate, { amount: 10n }), (c) => c.json({ oops: 1 }, 500));
    app.get('/stream', netpayHono(gate, { amount: 10n }), (c) => c.text('one two three'));
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise((r) => server.once('listening', r));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: () => new Promise((r) => server.close(() => r())),
    };
  },
};

describe('vendor gate adapters (Express, Fastify, Hono) [pglite]', () => {
  let w: World;
  let alice: Customer;
  const opened: (() => Promise<void>)[] = [];
  beforeAll(async () => {
    w = await startWorld('pglite');
    alice = await w.newCustomer('adapter-user', 1_000_000n, 100_000n);
  });
  afterAll(async () => {
    for (const f of opened.reverse()) await f();
    await w?.close();
  });

  /** A vendor server on one adapter; `clockOffsetMs` moves the gate's clock (an expired touchstone). */
  async function vendorServer(name: string, v: Vendor, clockOffsetMs = 0, withWallet = false) {
    const db = await openTestDatabase('pglite');
    await migrate(db, VENDOR_MIGRATIONS);
    const store = createChainStore({ db, clock: w.clock });
    let url: string | undefined;
    const gate = createGate({
      ...(withWallet ? { publicUrl: () => url } : {}),
      vendorId: v.id,
      signer: v.signer,
      broker: createBrokerClient({ url: w.url, vendorId: v.id, signer: v.signer, clock: w.clock }),
      brokerUrl: w.url,
      store,
      currency: { code: 'USD', exponent: 4 },
      clock: () => w.clock() + clockOffsetMs,
    });
    const server = await ADAPTERS[name]!(gate);
    url = server.url;
    opened.push(server.close, () => db.close());
    return { ...server, store };
  }

  async function chain(n = 40) {
    const c = clientChain(n);
    const r = await w.call('POST', '/me/chains', {
      token: alice.token,
      body: { chains: [{ coinValue: '10', n, chainId: c.chainId, root: c.root }] },
    });
    expect(r.status).toBe(201);
    const words = [fromBase64url(c.root)!];
    for (let i = 1; i <= n; i++) words.push(c.traversal.next()!.payword);
    const pay = (index: number, word = words[index]!): Payment => ({
      v: 1,
      parts: [{ chainId: c.chainId, index, payword: toBase64url(word) }],
    });
    return { chainId: c.chainId, words, pay };
  }

  for (const name of Object.keys(ADAPTERS)) {
    it(`${name}: 402 with terms, paid content with a receipt, retries free, refusals record nothing`, async () => {
      const v = await w.newVendor();
      const s = await vendorServer(name, v);
      const get = (path: string, payment?: Payment | string) =>
        fetch(s.url + path, {
          headers: payment
            ? { [HEADERS.payment]: typeof payment === 'string' ? payment : encodeHeader(payment) }
            : {},
        });
      const unpaid = await get('/article');
      expect(unpaid.status).toBe(402);
      expect((await unpaid.json()).terms).toMatchObject({ price: '50', vendorId: v.id });
      expect(unpaid.headers.get(HEADERS.terms)).toBeTruthy();

      const c = await chain();
      const paid = await get('/article', c.pay(5));
      expect(paid.status).toBe(200);
      expect(await paid.json()).toEqual({ text: 'the article' });
      const receipt = decodeHeader('receipt', paid.headers.get(HEADERS.receipt));
      expect(receipt.ok && receipt.value.amount).toBe('50');
      const retry = await get('/article', c.pay(5));
      expect(retry.status).toBe(200);
      expect(retry.headers.get(HEADERS.receipt)).toBe(paid.headers.get(HEADERS.receipt));

      for (const [payment, status, code] of [
        [c.pay(10, c.words[11]), 402, 'payword_invalid'],
        [c.pay(4), 409, 'index_not_advancing'],
        [c.pay(6), 402, 'insufficient_payment'],
        ['%%%', 400, 'malformed'],
      ] as const) {
        const r = await get('/article', payment);
        expect(r.status, `${name} ${code}`).toBe(status);
        // Every refusal carries fresh terms, in the body and the header (docs/protocol.md §9).
        const body = await r.json();
        expect(body.code).toBe(code);
        expect(body.terms).toMatchObject({ price: '50' });
        expect(r.headers.get(HEADERS.terms)).toBeTruthy();
      }
      const broken = await get('/broken', c.pay(6));
      expect(broken.status).toBe(500);
      expect(broken.headers.get(HEADERS.receipt)).toBeNull();
      expect((await s.store.get(c.chainId))!.acceptedIndex).toBe(5);
      // A chain this broker never issued (another broker's, or made up), a chain whose holder answers but
      // will not hand it over, and coins past their touchstone's expiry: refused, nothing recorded.
      const unknown = await get('/article', {
        v: 1,
        parts: [{ ...c.pay(1).parts[0]!, chainId: toBase64url(randomBytes(16)) }],
      });
      expect(unknown.status).toBe(402);
      expect((await unknown.json()).code).toBe('chain_unknown');
      const held = await chain();
      const stubborn = await w.newVendor(undefined, true, `${s.url}/nowhere`);
      expect(
        (
          await w.call('POST', '/directory/claim', {
            signer: w.asVendor(stubborn),
            body: { chainId: held.chainId },
          })
        ).body.granted,
      ).toBe(true);
      const elsewhere = await get('/article', held.pay(5));
      expect(elsewhere.status).toBe(409);
      expect((await elsewhere.json()).code).toBe('chain_not_held');
      expect(await s.store.get(held.chainId)).toBeUndefined();
      const late = await vendorServer(name, await w.newVendor(), 200 * 86_400_000);
      const old = await chain();
      const expired = await fetch(`${late.url}/article`, {
        headers: { [HEADERS.payment]: encodeHeader(old.pay(5)) },
      });
      expect(expired.status).toBe(402);
      expect((await expired.json()).code).toBe('touchstone_expired');
      expect((await late.store.get(old.chainId))?.acceptedIndex ?? 0).toBe(0);
      // The handler's own body and content type go out unchanged, with the receipt added.
      const streamed = await get('/stream', c.pay(6));
      expect(streamed.status).toBe(200);
      expect(await streamed.text()).toBe('one two three');
      expect(streamed.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(streamed.headers.get(HEADERS.receipt)).toBeTruthy();
    });

    it(`${name}: a browser gets the 402 as a page; the hand-over and wallet routes answer`, async () => {
      const v = await w.newVendor();
      const s = await vendorServer(name, v, 0, true);
      const page = await fetch(`${s.url}/article`, { headers: { accept: 'text/html,*/*' } });
      expect(page.status).toBe(402);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      expect(page.headers.get(HEADERS.terms)).toBeTruthy();
      const html = await page.text();
      expect(html).toContain('<!doctype html>');
      expect(html).toContain('USD');
      expect(html).toContain(`${s.url}/netpay/wallet/signin?return=%2Farticle`);
      // A refusal shows why; a program asking for JSON still gets JSON.
      const refused = await fetch(`${s.url}/article`, {
        headers: { accept: 'text/html', [HEADERS.payment]: '%%%' },
      });
      expect(refused.status).toBe(400);
      expect(await refused.text()).toMatch(/role="alert"/);
      const json = await fetch(`${s.url}/article`, { headers: { accept: 'application/json' } });
      expect(json.headers.get('content-type')).toMatch(/^application\/json/);
      expect((await json.json()).terms.wallet.signIn).toBe(`${s.url}/netpay/wallet/signin?return=%2Farticle`);

      const signin = await fetch(`${s.url}/netpay/wallet/signin?return=/article`, { redirect: 'manual' });
      expect(signin.status).toBe(302);
      const to = new URL(signin.headers.get('location')!);
      expect(to.origin + to.pathname).toBe(`${w.url}/wallet/authorize`);
      expect(to.searchParams.get('vendor')).toBe(v.id);
      expect(signin.headers.get('set-cookie')).toBeTruthy();
      const badCallback = await fetch(`${s.url}/netpay/wallet/callback?code=x&state=y`, {
        redirect: 'manual',
      });
      expect(badCallback.status).toBe(400);
      expect((await badCallback.json()).code).toBe('wallet_sign_in');
      const nowhere = await fetch(`${s.url}/netpay/wallet/nowhere`);
      expect(nowhere.status).toBe(404);

      const handover = await fetch(`${s.url}/netpay/handover`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ v: 1 }),
      });
      expect(handover.status).toBe(400);
      expect((await handover.json()).code).toBe('malformed');
    });
  }

  it('refuses coins of an expired touchstone, and a chain held by another vendor that will not hand it over', async () => {
    const v = await w.newVendor();
    const s = await vendorServer('hono', v);
    const c = await chain();
    // Another vendor (not reachable: no URL registered) holds the chain and has pushed no backup: taken
    // over once its lease has run out, not before.
    const other = await w.newVendor();
    const held = await w.call('POST', '/directory/claim', {
      signer: w.asVendor(other),
      body: { chainId: c.chainId },
    });
    expect(held.body.granted).toBe(true);
    const early = await fetch(`${s.url}/article`, { headers: { [HEADERS.payment]: encodeHeader(c.pay(5)) } });
    expect(early.status).toBe(409);
    expect((await early.json()).code).toBe('chain_busy');
    w.advance(10_001);
    const r = await fetch(`${s.url}/article`, { headers: { [HEADERS.payment]: encodeHeader(c.pay(5)) } });
    expect(r.status).toBe(200);
    expect((await s.store.get(c.chainId))!.startIndex).toBe(0);
    // Months later the chain has expired: its coins are refused.
    w.advance(200 * 86_400_000);
    const late = await fetch(`${s.url}/article`, { headers: { [HEADERS.payment]: encodeHeader(c.pay(10)) } });
    expect(late.status).toBe(402);
    expect((await late.json()).code).toBe('touchstone_expired');
  });
});
