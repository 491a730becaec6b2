/**
 * Attacks on vendors (issue 18 §4), one named test each: real vendor servers (Fastify + the gate) and the
 * real broker and bank on loopback (vendor-world.ts). Each attack is refused and changes nothing, and where
 * coins move the money invariants I1–I4 are checked (invariants.ts). The broker-side attacks are in
 * packages/broker/test/attacks.test.ts.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bankApi, brokerApi, peerApi, vendorApi, webApi } from '@netpay/api';
import { startBank } from '@netpay/bank';
import { migrate } from '@netpay/db';
import { openTestDatabase, seedPgliteDataDir, TEST_DATABASES } from '@netpay/db/testing';
import {
  createSigner,
  currency,
  encodeHeader,
  HEADERS,
  type Payment,
  randomBytes,
  signMessage,
  type Touchstone,
  toBase64url,
} from '@netpay/protocol';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boughtChain, type Customer, startWorld, type World } from '../../broker/test/world.ts';
import { ownChain } from '../../peer/test/fixtures.ts';
import { BUILT_APPS, startWeb } from '../../web/server.ts';
import { createBrokerClient } from '../src/broker-client.ts';
import { createGate } from '../src/gate.ts';
import { netpayFastify } from '../src/http/fastify.ts';
import { PriceListSchema, startVendorServer } from '../src/server.ts';
import { createChainStore, VENDOR_MIGRATIONS } from '../src/store/store.ts';
import { checkChains, checkI1, Receipts } from './invariants.ts';
import { type RunningVendor, startVendor } from './vendor-world.ts';

const HOUR_MS = 3_600_000;

for (const kind of TEST_DATABASES) {
  describe(`attacks on vendors [${kind}]`, () => {
    let w: World;
    let alice: Customer;
    let a: RunningVendor;
    let b: RunningVendor;
    // Every receipt the vendors gave in this world: (I1) holds each vendor to all of them.
    const receipts = new Receipts();
    beforeAll(async () => {
      // Touchstones valid for an hour, so that one can expire without moving the clock by months.
      w = await startWorld(kind, { config: { chainLifetimeSeconds: 3_600 } });
      alice = await w.newCustomer('alice', 1_000_000n, 200_000n);
      a = await startVendor(w, kind);
      b = await startVendor(w, kind);
    });
    afterAll(async () => {
      await a?.close();
      await b?.close();
      await w?.close();
    });

    /** A chain alice bought (coins of 10: the item's 50 is 5 coins), with every payword. */
    const chainOf = (n: number) => boughtChain(w, alice, n);
    const accepted = async (v: RunningVendor, chainId: string) => (await v.store.get(chainId))?.acceptedIndex;
    const codeOf = async (r: Response) => [r.status, ((await r.json()) as { code: string }).code];

    it('a forged payword is refused and changes nothing', async () => {
      const c = await chainOf(20);
      expect(receipts.keep(a.id, await a.buy(c.pay(5)))).toBe(200);
      const served = a.served();
      // The next payword but one, random bytes, and a real payword under another index.
      for (const forged of [c.pay(10, c.words[11]!), c.pay(10, randomBytes(32)), c.pay(10, c.words[9]!)]) {
        const r = await a.buy(forged);
        expect(await codeOf(r)).toEqual([402, 'payword_invalid']);
        expect(r.headers.get(HEADERS.receipt)).toBeNull();
      }
      expect(a.served()).toBe(served);
      expect(await accepted(a, c.chainId)).toBe(5);
      await checkI1(a, receipts);
      await checkChains(w, [c.chainId], [alice.customerId]);
    });

    it('a replayed payment is served again but paid once, and refused at another vendor', async () => {
      const c = await chainOf(20);
      expect(receipts.keep(a.id, await a.buy(c.pay(5)))).toBe(200);
      // The same header again (a retry whose answer was lost): the content again, no second charge.
      for (let i = 0; i < 3; i++) expect((await a.buy(c.pay(5))).status).toBe(200);
      expect(await accepted(a, c.chainId)).toBe(5);
      // The same coins shown to another vendor: it takes the chain over at index 5, where they are spent.
      const elsewhere = await codeOf(await b.buy(c.pay(5)));
      expect(elsewhere[0]).toBe(409);
      expect(['payment_conflict', 'index_not_advancing']).toContain(elsewhere[1]);
      await checkI1(a, receipts);
      await checkI1(b, receipts);
      await checkChains(w, [c.chainId], [alice.customerId]);
    });

    it('the same coins at two vendors at the same instant: one accepts, the money invariants hold', async () => {
      const chains: string[] = [];
      let won = 0;
      for (let round = 0; round < 4; round++) {
        const c = await chainOf(20);
        chains.push(c.chainId);
        const [ra, rb] = await Promise.all([a.buy(c.pay(5)), b.buy(c.pay(5))]);
        const ok = [receipts.keep(a.id, ra), receipts.keep(b.id, rb)].filter((s) => s === 200);
        expect(ok.length, `round ${round}`).toBeLessThanOrEqual(1);
        won += ok.length;
        // One vendor holds the chain now, at index 5 if a payment won (the other handed it on or never had it).
        const rows = [await a.store.get(c.chainId), await b.store.get(c.chainId)];
        const holders = rows.filter((h) => h?.status === 'held');
        expect(holders.length, `round ${round}`).toBeLessThanOrEqual(1);
        if (ok.length === 1) expect(holders[0]?.acceptedIndex).toBe(5);
      }
      // Each race has its winner when the machine is not starved (a hand-over may time out under load).
      expect(won).toBeGreaterThan(0);
      await checkI1(a, receipts);
      await checkI1(b, receipts);
      await checkChains(w, chains, [alice.customerId]);
    });

    it('a hand-over request from an unregistered vendor is refused and the chain stays', async () => {
      const c = await chainOf(20);
      expect(receipts.keep(a.id, await a.buy(c.pay(5)))).toBe(200);
      const request = (requester: string, signer = createSigner(randomBytes(32))) =>
        signMessage(
          'handover-request',
          {
            v: 1,
            chainId: c.chainId,
            holder: a.id,
            requester,
            nonce: toBase64url(randomBytes(16)),
            issuedAt: Math.floor(w.clock() / 1000),
          },
          signer,
        );
      const answer = async (body: unknown) => {
        const r = await a.gate.serveHandover(body);
        return [r.status, (r.body as { code?: string }).code];
      };
      // Nobody registered this requester; a registered vendor's id under another key is no better.
      expect(await answer(request('ghost-vendor'))).toEqual([403, 'wrong_vendor_key']);
      expect(await answer(request(b.id))).toEqual([403, 'bad_signature']);
      // Over HTTP too, at the gate's hand-over route.
      const http = await fetch(`${a.url}/netpay/handover`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(request('ghost-vendor')),
      });
      expect(http.status).toBe(403);
      expect((await a.store.get(c.chainId))!.status).toBe('held');
      expect(receipts.keep(a.id, await a.buy(c.pay(10)))).toBe(200);
      expect(await accepted(a, c.chainId)).toBe(10);
    });

    it('an expired touchstone is refused, for a chain met first and for a chain held', async () => {
      const held = await chainOf(20);
      const fresh = await chainOf(20);
      expect(receipts.keep(a.id, await a.buy(held.pay(5)))).toBe(200);
      w.advance(HOUR_MS + 1_000);
      expect(await codeOf(await a.buy(held.pay(10)))).toEqual([402, 'touchstone_expired']);
      expect(await codeOf(await b.buy(fresh.pay(5)))).toEqual([402, 'touchstone_expired']);
      expect(await accepted(a, held.chainId)).toBe(5);
      expect(await accepted(b, fresh.chainId)).toBeUndefined();
    });
  });
}

describe('a peer shown a touchstone under the wrong key [pglite]', () => {
  let w: World;
  let close: () => Promise<void>;
  let url: string;
  let store: ReturnType<typeof createChainStore>;
  let payer: { peerId: string; signer: ReturnType<typeof createSigner> };
  let sellerId: string;
  beforeAll(async () => {
    w = await startWorld('pglite', {
      config: { chainLifetimeSeconds: 3_600, p2p: { currency: 'tokens', grant: '1000000' } },
    });
    payer = { peerId: `payer-${toBase64url(randomBytes(4))}`, signer: createSigner(randomBytes(32)) };
    const seller = { id: `seller-${toBase64url(randomBytes(4))}`, signer: createSigner(randomBytes(32)) };
    for (const p of [
      { id: payer.peerId, signer: payer.signer },
      { id: seller.id, signer: seller.signer },
    ]) {
      const r = await w.call('POST', '/parties', {
        signer: p,
        body: { id: p.id, kind: 'peer', name: p.id, publicKey: toBase64url(p.signer.publicKey) },
      });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
    }
    const db = await openTestDatabase('pglite');
    await migrate(db, VENDOR_MIGRATIONS);
    store = createChainStore({ db, clock: w.clock });
    // A peer's gate: a payer's first payment carries the touchstone, checked offline under the broker's keys.
    const gate = createGate({
      vendorId: seller.id,
      signer: seller.signer,
      broker: createBrokerClient({ url: w.url, vendorId: seller.id, signer: seller.signer, clock: w.clock }),
      brokerUrl: w.url,
      store,
      currency: { code: 'USD', exponent: 4 },
      clock: w.clock,
      frozenPeers: () => false,
    });
    const app = Fastify();
    netpayFastify(app, gate);
    app.get('/chunk', { config: { netpay: { amount: 10n } } }, async () => ({ chunk: 1 }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    close = async () => {
      await app.close();
      await db.close();
    };
    sellerId = seller.id;
  });
  afterAll(async () => {
    await close?.();
    await w?.close();
  });

  it('expired and wrong-key touchstones are refused, and nothing is held', async () => {
    const seller = sellerId;
    const nowS = () => Math.floor(w.clock() / 1000);
    const buy = () =>
      ownChain(
        20,
        payer,
        async (body) =>
          (await w.call('POST', '/p2p/chains', { signer: { id: payer.peerId, signer: payer.signer }, body }))
            .body,
        nowS,
      );
    const chain = await buy();
    const real = chain.touchstone;
    const { sig: _sig, ...unsigned } = real as Touchstone & { sig: string };
    const byPayer = signMessage('touchstone', unsigned as never, payer.signer) as Touchstone;
    const cases: [string, Touchstone, string][] = [
      // Re-signed by the payer under the broker's key id; more coins than were bought, same signature.
      ['re-signed by the payer', byPayer, 'bad_signature'],
      ['more coins, same signature', { ...real, n: real.n * 10 }, 'bad_signature'],
      ['a key id the broker never had', { ...real, keyId: 'no-such-key' }, 'wrong_broker_key'],
      ['a broker that is not ours', { ...real, brokerId: 'evil.example' }, 'wrong_broker_key'],
    ];
    const payWith = (t: Touchstone, c = chain) => {
      const p = c.pay(seller, 0, 1);
      const payment: Payment = { v: 1, parts: [{ ...p.parts[0]!, touchstone: t }] };
      return fetch(`${url}/chunk`, { headers: { [HEADERS.payment]: encodeHeader(payment) } });
    };
    for (const [label, t, code] of cases) {
      const r = await payWith(t);
      expect([r.status, ((await r.json()) as { code: string }).code], label).toEqual([403, code]);
      expect(await store.get(chain.chainId), label).toBeUndefined();
    }
    // The real touchstone is accepted: the refusals above were about the touchstone alone.
    const ok = await payWith(real);
    expect(ok.status, await ok.clone().text()).toBe(200);
    // A real touchstone past its expiry (the world's chains live an hour).
    const later = await buy();
    w.advance(3_600_000 + 1_000);
    const expired = await payWith(later.touchstone, later);
    expect([expired.status, ((await expired.json()) as { code: string }).code]).toEqual([
      402,
      'touchstone_expired',
    ]);
    expect(await store.get(later.chainId)).toBeUndefined();
  });
});

describe('the /dev endpoints outside dev mode [pglite]', () => {
  const dir = mkdtempSync(join(tmpdir(), 'netpay-dev-'));
  let w: World;
  beforeAll(async () => {
    w = await startWorld('pglite');
  });
  afterAll(async () => {
    await w?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const status = async (url: string) => (await fetch(url)).status;

  it('only the broker has /dev routes in its API contract, and only /dev/outbox', () => {
    const devRoutes = (api: Record<string, { path: string }>) =>
      Object.values(api)
        .map((r) => r.path)
        .filter((p) => p === '/dev' || p.startsWith('/dev/'));
    expect(devRoutes(brokerApi)).toEqual(['/dev/outbox']);
    for (const api of [bankApi, vendorApi, webApi, peerApi]) expect(devRoutes(api)).toEqual([]);
  });

  it('the bank outside dev mode has no /dev routes and opens no account with money in it', async () => {
    seedPgliteDataDir(join(dir, 'bank'));
    const bank = await startBank({
      port: 0,
      dev: false,
      dataDir: join(dir, 'bank'),
      currency: currency('USD', 4),
      logger: false,
    });
    try {
      expect(await status(`${bank.url}/dev/outbox`)).toBe(404);
      const r = await fetch(`${bank.url}/accounts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': 'dev-attack-0001' },
        body: JSON.stringify({ name: 'free money', initialBalance: '1000000' }),
      });
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(r.status).toBeLessThan(500);
      expect(((await fetch(`${bank.url}/info`).then((x) => x.json())) as { dev: boolean }).dev).toBe(false);
    } finally {
      await bank.close();
    }
  });

  it('a vendor server has no /dev routes', async () => {
    const files = join(dir, 'files');
    rmSync(files, { recursive: true, force: true });
    seedPgliteDataDir(join(dir, 'vendor', 'db'));
    mkdirSync(files, { recursive: true });
    writeFileSync(join(files, 'paper.pdf'), 'a paper');
    const shop = await startVendorServer({
      port: 0,
      folder: files,
      prices: PriceListSchema.parse({
        vendorId: `dev-shop-${toBase64url(randomBytes(3))}`,
        prices: { '*.pdf': '50' },
      }),
      brokerUrl: w.url,
      dataDir: join(dir, 'vendor'),
      redeemEveryMs: 0,
      clock: w.clock,
    });
    try {
      for (const path of ['/dev/outbox', '/dev', '/dev/anything'])
        expect(await status(shop.url + path)).toBe(404);
    } finally {
      await shop.close();
    }
  });

  it('the web server has no /dev routes', async () => {
    const web = await startWeb({
      port: 0,
      broker: w.url,
      shops: [],
      ...(existsSync(BUILT_APPS) ? {} : { outDir: join(dir, 'web') }),
    });
    try {
      for (const path of ['/dev/outbox', '/dev', '/dev/anything'])
        expect(await status(web.url + path)).toBe(404);
    } finally {
      await web.close();
    }
  });
});
