import { migrate } from '@netpay/db';
import { openTestDatabase, TEST_DATABASES } from '@netpay/db/testing';
import { encodeHeader, HEADERS, type Payment, toBase64url } from '@netpay/protocol';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boughtChain, type Customer, startWorld, type Vendor, type World } from '../../broker/test/world.ts';
import { createBrokerClient } from '../src/broker-client.ts';
import { createGate } from '../src/gate.ts';
import { netpayFastify } from '../src/http/fastify.ts';
import { createRedeemer, type Redeemer } from '../src/redeem/redeemer.ts';
import { createChainStore, VENDOR_MIGRATIONS } from '../src/store/store.ts';

/**
 * Multi-party prices: coins paid for a resource with payees are redeemed in claims carrying those payees'
 * shares, so the broker credits each payee its share of exactly those coins, and the vendor alone the rest.
 */
for (const kind of TEST_DATABASES) {
  describe(`multi-party redemption [${kind}]`, () => {
    let w: World;
    let alice: Customer;
    let vendor: Vendor;
    let label: Vendor;
    let app: FastifyInstance;
    let url: string;
    let store: ReturnType<typeof createChainStore>;
    let redeemer: Redeemer;
    const onClose: (() => Promise<void>)[] = [];

    beforeAll(async () => {
      w = await startWorld(kind);
      alice = await w.newCustomer('listener', 1_000_000n, 100_000n);
      vendor = await w.newVendor();
      label = await w.newVendor();
      const db = await openTestDatabase(kind);
      onClose.push(() => db.close());
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
      redeemer = createRedeemer({
        vendorId: vendor.id,
        signer: vendor.signer,
        broker,
        store,
        clock: w.clock,
      });
      app = Fastify();
      netpayFastify(app, gate);
      app.get('/plain', { config: { netpay: { amount: 20n } } }, async () => ({ plain: true }));
      const payees = [
        { payeeId: vendor.id, share: 7_000 },
        { payeeId: label.id, share: 3_000 },
      ];
      app.get('/song', { config: { netpay: { amount: 30n, payees } } }, async () => ({ song: true }));
      app.get(
        '/bootleg',
        { config: { netpay: { amount: 10n, payees: [{ payeeId: 'nobody-registered', share: 10_000 }] } } },
        async () => ({ bootleg: true }),
      );
      await app.listen({ port: 0, host: '127.0.0.1' });
      url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    });
    afterAll(async () => {
      await app?.close();
      for (const f of onClose) await f();
      await w?.close();
    });

    const buyChain = (n = 40) => boughtChain(w, alice, n);
    const pay = (chainId: string, index: number, payword: Uint8Array): Payment => ({
      v: 1,
      parts: [{ chainId, index, payword: toBase64url(payword) }],
    });
    const balance = async (v: Vendor) =>
      (await w.call('GET', '/parties/me/statement', { signer: w.asVendor(v) })).body.balance;

    it('credits each payee its share of the coins paid at its price, and the vendor the rest', async () => {
      const c = await buyChain();
      // plain (0,2], song (2,5], song (5,8], plain (8,10], song (10,13]
      for (const [path, to] of [
        ['/plain', 2],
        ['/song', 5],
        ['/song', 8],
        ['/plain', 10],
        ['/song', 13],
      ] as const) {
        const r = await fetch(url + path, {
          headers: { [HEADERS.payment]: encodeHeader(pay(c.chainId, to, c.words[to]!)) },
        });
        expect(r.status, path).toBe(200);
      }
      const out = await redeemer.redeem();
      expect(out).toMatchObject({ claims: 4, credited: 4, rejected: 0, amount: '130' });
      // Fee 2 % rounded up per claim: (0,2] 20 → 19 vendor; (2,8] 60 → 58 split 70/30 → 41 + 17;
      // (8,10] 20 → 19 vendor; (10,13] 30 → 29 split 70/30 → 21 + 8 (the odd unit to the first payee).
      expect(await balance(vendor)).toBe('100');
      expect(await balance(label)).toBe('25');
      expect(await store.statement()).toMatchObject({
        accepted: '130',
        redeemed: '130',
        claimsAwaitingAnswer: 0,
      });
      // Nothing left to claim: a second run sends nothing.
      expect(await redeemer.redeem()).toMatchObject({ claims: 0 });
      await w.audit();
    });

    it('refuses a price naming a payee the broker does not know, taking no coins', async () => {
      const c = await buyChain(5);
      const r = await fetch(`${url}/bootleg`, {
        headers: { [HEADERS.payment]: encodeHeader(pay(c.chainId, 1, c.words[1]!)) },
      });
      expect(r.status).toBe(500);
      expect(await r.json()).toMatchObject({ code: 'payee_unknown' });
      expect(await store.get(c.chainId)).toBeUndefined();
    });
  });
}
