import { type AddressInfo, createServer } from 'node:net';
import { migrate } from '@netpay/db';
import { openTestDatabase, TEST_DATABASES } from '@netpay/db/testing';
import { createSigner, randomBytes, toBase64url } from '@netpay/protocol';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Customer, startWorld, type World } from '../../broker/test/world.ts';
import { createBrokerClient } from '../src/broker-client.ts';
import { createGate, WALLET_RECEIPT_HEADER } from '../src/gate.ts';
import { netpayFastify } from '../src/http/fastify.ts';
import { createRedeemer, type Redeemer } from '../src/redeem/redeemer.ts';
import { type ChainStore, createChainStore, VENDOR_MIGRATIONS } from '../src/store/store.ts';

/**
 * Server-side wallets end to end over real HTTP: the customer follows the vendor's sign-in link to the
 * broker's page, signs in and sets a cap, comes back with a grant; each click is then charged to the
 * broker-held balance, up to the cap, and a failed response is not charged.
 */
for (const kind of TEST_DATABASES) {
  describe(`server-side wallet [${kind}]`, () => {
    let w: World;
    let bob: Customer;
    let app: FastifyInstance;
    let url: string;
    let store: ChainStore;
    let redeemer: Redeemer;
    let dropVoids = false;
    const vendorId = `greetings-${toBase64url(randomBytes(3))}`;
    const labelId = `label-${toBase64url(randomBytes(3))}`;
    const password = 'correct horse battery';
    const onClose: (() => Promise<void>)[] = [];

    beforeAll(async () => {
      w = await startWorld(kind);
      bob = await w.newCustomer('bob', 1_000_000n, 10_000n);
      await w.newVendor(labelId);
      const signer = createSigner(randomBytes(32));
      const db = await openTestDatabase(kind);
      onClose.push(() => db.close());
      await migrate(db, VENDOR_MIGRATIONS);
      // The gate needs the vendor's own URL (for the sign-in redirect) before the app exists.
      const probe = createServer();
      await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
      url = `http://127.0.0.1:${(probe.address() as AddressInfo).port}`;
      await new Promise((r) => probe.close(r));
      // The vendor reaches the broker through a proxy that can lose the vendor's voids (a broker outage).
      const proxy = Fastify();
      proxy.removeAllContentTypeParsers();
      proxy.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
      proxy.all('/*', async (req, reply) => {
        if (dropVoids && req.url.endsWith('/void'))
          return reply.code(503).send({ code: 'unavailable', message: 'the broker is down' });
        const headers = Object.fromEntries(
          Object.entries(req.headers).filter(
            ([k]) => !['host', 'connection', 'content-length'].includes(k),
          ) as [string, string][],
        );
        const res = await fetch(`${w.url}${req.url}`, {
          method: req.method,
          headers,
          ...(req.body ? { body: new Uint8Array(req.body as Buffer) } : {}),
        });
        return reply
          .code(res.status)
          .type(res.headers.get('content-type') ?? 'application/json')
          .send(Buffer.from(await res.arrayBuffer()));
      });
      await proxy.listen({ port: 0, host: '127.0.0.1' });
      onClose.push(() => proxy.close());
      const brokerClient = createBrokerClient({
        url: `http://127.0.0.1:${(proxy.server.address() as AddressInfo).port}`,
        vendorId,
        signer,
        clock: w.clock,
      });
      store = createChainStore({ db, clock: w.clock });
      redeemer = createRedeemer({ vendorId, signer, broker: brokerClient, store, clock: w.clock });
      const gate = createGate({
        vendorId,
        signer,
        broker: brokerClient,
        brokerUrl: w.url,
        store,
        currency: { code: 'USD', exponent: 4 },
        clock: w.clock,
        publicUrl: url,
      });
      app = Fastify();
      netpayFastify(app, gate);
      app.get('/card', { config: { netpay: { amount: 50n } } }, async () => ({ card: 'a card' }));
      app.get(
        '/song',
        {
          config: {
            netpay: {
              amount: 40n,
              payees: [
                { payeeId: vendorId, share: 5_000 },
                { payeeId: labelId, share: 5_000 },
              ],
            },
          },
        },
        async () => ({ song: true }),
      );
      app.get('/broken', { config: { netpay: { amount: 50n } } }, async (_req, reply) =>
        reply.code(500).send({ oops: true }),
      );
      await app.listen({ port: Number(new URL(url).port), host: '127.0.0.1' });
      const reg = await w.call('POST', '/parties', {
        signer: { id: vendorId, signer },
        body: { id: vendorId, name: 'E-greetings', publicKey: toBase64url(signer.publicKey), url },
      });
      expect(reg.status, JSON.stringify(reg.body)).toBe(201);
    });
    afterAll(async () => {
      await app?.close();
      for (const f of onClose) await f();
      await w?.close();
    });

    const balance = async () => (await w.call('GET', '/me', { token: bob.token })).body.balance as string;
    const vendorBalance = async (id: string) =>
      (
        await w.db.query<{ balance: bigint }>('SELECT balance FROM ledger_accounts WHERE id = $1', [
          `vendor:${id}`,
        ])
      )[0]?.balance;
    let cookie = '';

    /** The fields a browser would post from a page: inputs with their values, selects' selected option. */
    function formFields(html: string): Record<string, string> {
      const out: Record<string, string> = {};
      for (const [tag] of html.matchAll(/<input[^>]*>/g)) {
        const name = /name="([^"]+)"/.exec(tag)?.[1];
        const value = /value="([^"]*)"/.exec(tag)?.[1] ?? '';
        if (name)
          out[name] = value
            .replace(/&amp;/g, '&')
            .replace(/&quot;/g, '"')
            .replace(/&#39;/g, "'");
      }
      for (const m of html.matchAll(/<select[^>]*name="([^"]+)"[^>]*>([\s\S]*?)<\/select>/g))
        out[m[1]!] =
          /<option value="([^"]+)" selected/.exec(m[2]!)?.[1] ?? /<option value="([^"]+)"/.exec(m[2]!)![1]!;
      return out;
    }
    const post = (fields: Record<string, string>) =>
      fetch(`${w.url}/wallet/authorize`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(fields),
      });

    /**
     * The whole sign-in as a browser does it: the vendor's link, the broker's page (password, then the code
     * sent to the login, and the cap), back to the vendor's callback with the browser's state cookie.
     */
    async function signIn(o: { password: string; cap?: string; period?: 'day' | 'total' }) {
      const terms = await (await fetch(`${url}/card`)).json();
      const toBroker = await fetch(terms.terms.wallet.signIn, { redirect: 'manual' });
      expect(toBroker.status).toBe(302);
      const stateCookie = toBroker.headers.get('set-cookie')!.split(';')[0]!;
      const page = new URL(toBroker.headers.get('location')!);
      expect(page.origin).toBe(new URL(w.url).origin);
      const first = await fetch(page);
      expect(first.status).toBe(200);
      const firstHtml = await first.text();
      expect(firstHtml).toContain('E-greetings');
      const step1 = await post({ ...formFields(firstHtml), login: bob.login, password: o.password });
      if (step1.status !== 200) return { step1, stateCookie };
      const secondHtml = await step1.text();
      expect(secondHtml).toContain('We sent a 6-digit code');
      const fields = formFields(secondHtml);
      const step2 = await post({
        ...fields,
        code: await w.latestCode(bob.login),
        ...(o.cap ? { capAmount: o.cap } : {}),
        ...(o.period ? { period: o.period } : {}),
      });
      return { step1, step2, stateCookie, fields };
    }

    it('signs in at the broker through the vendor, refusing a wrong password with the page again', async () => {
      const wrong = await signIn({ password: 'not it' });
      expect(wrong.step1.status).toBe(401);
      expect(await wrong.step1.text()).toContain('login or password is wrong');

      const ok = await signIn({ password, cap: '0.0150', period: 'day' });
      // The page offered the default cap, in major units, under the field the form reads.
      expect(ok.fields!.capAmount).toBe('5.0000');
      expect(ok.step2!.status).toBe(303);
      const back = ok.step2!.headers.get('location')!;
      // Only the browser that started the sign-in may finish it.
      const planted = await fetch(back, { redirect: 'manual' });
      expect(planted.status).toBe(400);
      expect(await planted.json()).toMatchObject({ code: 'wallet_sign_in' });
      const callback = await fetch(back, { redirect: 'manual', headers: { cookie: ok.stateCookie } });
      expect(callback.status).toBe(302);
      expect(callback.headers.get('location')).toBe('/card');
      cookie = callback.headers.get('set-cookie')!.split(';')[0]!;
      expect(cookie).toMatch(/^netpay_wallet\.[A-Za-z0-9_-]+=.{20,}/);
      // The code is single-use.
      const again = await fetch(back, { redirect: 'manual', headers: { cookie: ok.stateCookie } });
      expect(again.status).toBe(400);
      expect(await again.json()).toMatchObject({ code: 'wallet_sign_in' });
      // A return path that would leave the site is replaced by the home page.
      const sneaky = await fetch(
        `${url}/netpay/wallet/signout?return=${encodeURIComponent('/\t/evil.example')}`,
        {
          redirect: 'manual',
        },
      );
      expect(sneaky.headers.get('location')).toBe('/');
    });

    it('charges each click to the broker-held balance up to the cap, and never a failed response', async () => {
      const before = BigInt(await balance());
      const vendorBefore = (await vendorBalance(vendorId)) ?? 0n;
      // A response that fails is charged and voided at once: the cap and the balance are untouched.
      const failed = await fetch(`${url}/broken`, { headers: { cookie } });
      expect(failed.status, await failed.clone().text()).toBe(500);
      expect(failed.headers.get(WALLET_RECEIPT_HEADER)).toBeNull();
      for (let k = 0; k < 3; k++) {
        const r = await fetch(`${url}/card`, { headers: { cookie } });
        expect(r.status).toBe(200);
        const receipt = JSON.parse(
          Buffer.from(r.headers.get(WALLET_RECEIPT_HEADER)!, 'base64url').toString(),
        );
        expect(receipt).toMatchObject({ vendorId, amount: '50', remaining: String(100 - 50 * k) });
      }
      const over = await fetch(`${url}/card`, { headers: { cookie } });
      expect(over.status).toBe(402);
      expect(await over.json()).toMatchObject({ code: 'spending_limit' });
      expect(BigInt(await balance())).toBe(before - 150n);
      // 2 % fee, rounded up, per charge: 49 each.
      expect((await vendorBalance(vendorId))! - vendorBefore).toBe(147n);
      const grants = (await w.call('GET', '/me/wallet/grants', { token: bob.token })).body.grants;
      expect(grants).toEqual([
        expect.objectContaining({
          vendorId,
          cap: '150',
          period: 'day',
          spent: '150',
          remaining: '0',
          active: true,
        }),
      ]);
      await w.audit();
    });

    it("voids a failed response's charge later when the broker cannot be reached at the time", async () => {
      const raised = await w.call('PUT', `/me/wallet/grants/${vendorId}`, {
        token: bob.token,
        body: { cap: '1000' },
      });
      expect(raised.status, JSON.stringify(raised.body)).toBe(200);
      const before = BigInt(await balance());
      dropVoids = true;
      const failed = await fetch(`${url}/broken`, { headers: { cookie } });
      expect(failed.status).toBe(500);
      // Charged, and the void is waiting for the broker.
      expect(BigInt(await balance())).toBe(before - 50n);
      expect(await store.voidsPending()).toHaveLength(1);
      expect(await store.statement()).toMatchObject({ walletVoidsPending: '50', walletOwed: '0' });
      expect(await redeemer.voidCharges()).toEqual({ voided: 0, refused: 0 });
      dropVoids = false;
      expect(await redeemer.voidCharges()).toEqual({ voided: 1, refused: 0 });
      expect(BigInt(await balance())).toBe(before);
      expect(await store.voidsPending()).toEqual([]);
      expect(await store.statement()).toMatchObject({ walletVoidsPending: '0', walletOwed: '0' });
      await w.audit();
    });

    it('splits a multi-party price among the payees, and lets the customer raise the cap and withdraw', async () => {
      const raised = await w.call('PUT', `/me/wallet/grants/${vendorId}`, {
        token: bob.token,
        body: { cap: '1000' },
      });
      expect(raised.status, JSON.stringify(raised.body)).toBe(200);
      expect(raised.body).toMatchObject({ cap: '1000', spent: '150', remaining: '850' });
      const labelBefore = (await vendorBalance(labelId)) ?? 0n;
      const song = await fetch(`${url}/song`, { headers: { cookie } });
      expect(song.status).toBe(200);
      // 40 − fee 1 = 39, split 50/50: 20 to the vendor (listed first), 19 to the label.
      expect((await vendorBalance(labelId))! - labelBefore).toBe(19n);
      // The dashboard's shares (gross) count server-side wallet sales too.
      expect(await store.payeeTotals()).toEqual(
        expect.arrayContaining([
          { payeeId: vendorId, amount: '20' },
          { payeeId: labelId, amount: '20' },
        ]),
      );

      const revoked = await w.call('DELETE', `/me/wallet/grants/${vendorId}`, { token: bob.token });
      expect(revoked.status).toBe(204);
      const after = await fetch(`${url}/card`, { headers: { cookie } });
      expect(after.status).toBe(402);
      expect(await after.json()).toMatchObject({ code: 'payment_required' });
      expect(after.headers.get('set-cookie')).toMatch(/netpay_wallet\.[A-Za-z0-9_-]+=;/);
      await w.audit();
    });

    it('refuses a sign-in that would send the code to another site, and charges by another vendor', async () => {
      const page = await fetch(
        `${w.url}/wallet/authorize?vendor=${vendorId}&redirect_uri=${encodeURIComponent('https://evil.example/cb')}`,
      );
      expect(page.status).toBe(403);
      expect(await page.json()).toMatchObject({ code: 'forbidden' });
      const ok = await signIn({ password, cap: '1.00', period: 'total' });
      const code = new URL(ok.step2!.headers.get('location')!).searchParams.get('code')!;
      // Another vendor cannot use this customer's code (it was issued to the greetings vendor).
      const other = await w.newVendor();
      const stolen = await w.call('POST', '/wallet/token', { signer: w.asVendor(other), body: { code } });
      expect(stolen.status).toBe(403);
      expect(stolen.body).toMatchObject({ code: 'grant_invalid' });
      const bad = await w.call('POST', '/wallet/charges', {
        signer: w.asVendor(other),
        body: { token: 'x'.repeat(43), amount: '-5' },
      });
      expect(bad.status).toBe(400);
    });
  });
}
