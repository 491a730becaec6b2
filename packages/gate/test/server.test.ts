import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, vendorApi } from '@netpay/api';
import { seedPgliteDataDir } from '@netpay/db/testing';
import { encodeHeader, fromBase64url, HEADERS, type Payment, toBase64url } from '@netpay/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, type Customer, clientChain, startWorld, type World } from '../../broker/test/world.ts';
import { PriceListSchema, priceOf, startVendorServer } from '../src/server.ts';

describe('standalone vendor selling a folder [pglite]', () => {
  let w: World;
  let alice: Customer;
  let shop: Awaited<ReturnType<typeof startVendorServer>>;
  const dir = mkdtempSync(join(tmpdir(), 'netpay-shop-'));
  beforeAll(async () => {
    w = await startWorld('pglite');
    alice = await w.newCustomer('shopper', 1_000_000n, 100_000n);
    mkdirSync(join(dir, 'files', 'music'), { recursive: true });
    writeFileSync(join(dir, 'files', 'guide.pdf'), 'the guide');
    writeFileSync(join(dir, 'files', 'music', 'track.mp3'), 'la la la');
    writeFileSync(join(dir, 'files', 'readme.txt'), 'free to read');
    // Its database on a copy of the run's empty PGlite cluster (no initdb); the process tests start one from nothing.
    seedPgliteDataDir(join(dir, 'data', 'db'));
    shop = await startVendorServer({
      port: 0,
      folder: join(dir, 'files'),
      prices: PriceListSchema.parse({ vendorId: 'folder-shop', prices: { '*.pdf': '50', 'music/**': '10' } }),
      brokerUrl: w.url,
      dataDir: join(dir, 'data'),
      redeemEveryMs: 0,
      clock: w.clock,
      bankAccount: (await w.bankClient.createAccount({ name: 'folder-shop' })).id,
    });
  });
  afterAll(async () => {
    await shop?.close();
    await w?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prices files by glob, first match wins', () => {
    const list = PriceListSchema.parse({
      vendorId: 'x',
      default: '1',
      prices: { 'a/*.pdf': '7', '**.pdf': '9' },
    });
    expect(priceOf(list, 'a/b.pdf')).toBe(7n);
    expect(priceOf(list, 'a/b/c.pdf')).toBe(9n);
    expect(priceOf(list, 'x.txt')).toBe(1n);
    expect(priceOf(PriceListSchema.parse({ vendorId: 'x' }), 'x.txt')).toBeUndefined();
    expect(() => PriceListSchema.parse({ vendorId: 'x', prices: { '*.pdf': '1.5' } })).toThrow();
  });

  it('serves free files, asks 402 for priced ones, sells them for coins, and redeems', async () => {
    expect(await (await fetch(`${shop.url}/readme.txt`)).text()).toBe('free to read');
    const unpaid = await fetch(`${shop.url}/guide.pdf`);
    expect(unpaid.status).toBe(402);
    expect((await unpaid.json()).terms).toMatchObject({ price: '50', vendorId: 'folder-shop' });

    const c = clientChain(20);
    const bought = await w.call('POST', '/me/chains', {
      token: alice.token,
      body: { chains: [{ coinValue: '10', n: 20, chainId: c.chainId, root: c.root }] },
    });
    expect(bought.status).toBe(201);
    const words = [fromBase64url(c.root)!];
    for (let i = 1; i <= 20; i++) words.push(c.traversal.next()!.payword);
    const pay = (i: number): Payment => ({
      v: 1,
      parts: [{ chainId: c.chainId, index: i, payword: toBase64url(words[i]!) }],
    });

    const guide = await fetch(`${shop.url}/guide.pdf`, {
      headers: { [HEADERS.payment]: encodeHeader(pay(5)) },
    });
    expect(guide.status).toBe(200);
    expect(await guide.text()).toBe('the guide');
    expect(guide.headers.get(HEADERS.receipt)).toBeTruthy();
    const track = await fetch(`${shop.url}/music/track.mp3`, {
      headers: { [HEADERS.payment]: encodeHeader(pay(6)) },
    });
    expect(await track.text()).toBe('la la la');
    const missing = await fetch(`${shop.url}/music/none.mp3`, {
      headers: { [HEADERS.payment]: encodeHeader(pay(7)) },
    });
    expect(missing.status).toBe(404);
    expect((await fetch(`${shop.url}/../../etc/passwd`)).status).toBeGreaterThanOrEqual(400);
    // Paths that dodge the glob by shape are priced like the file they reach.
    for (const sneaky of ['//guide.pdf', '/music/../guide.pdf', '/%2Fguide.pdf']) {
      const r = await fetch(shop.url + sneaky);
      expect(r.status, sneaky).not.toBe(200);
    }

    // Like every NetPay service: its API description, health and metrics (README "Running the services").
    const docs = await fetch(`${shop.url}/docs/json`);
    expect(docs.status).toBe(200);
    expect((await docs.json()).info.title).toContain('NetPay vendor');
    expect(await (await fetch(`${shop.url}/healthz`)).json()).toEqual({ status: 'ok' });
    expect(await (await fetch(`${shop.url}/metrics`)).text()).toContain('http_requests_total');

    // Browser wallets on other sites may fetch the files (CORS), but not the vendor's own pages.
    const origin = { origin: 'http://wallet.example' };
    expect(
      (await fetch(`${shop.url}/readme.txt`, { headers: origin })).headers.get('access-control-allow-origin'),
    ).toBe('http://wallet.example');
    const mine = await fetch(`${shop.url}/netpay/statement`, { headers: origin });
    expect(mine.headers.get('access-control-allow-origin')).toBeNull();
    const statement = await (await fetch(`${shop.url}/netpay/statement`)).json();
    expect(statement).toMatchObject({ vendorId: 'folder-shop', accepted: '60', redeemed: '0' });
    // The vendor's own pages answer as its contract says (@netpay/api vendorApi), as the web dashboard reads them.
    const vendor = createClient(vendorApi, { url: shop.url });
    expect(await vendor.statement({})).toMatchObject({ vendorId: 'folder-shop' });
    expect(await vendor.dashboard({})).toMatchObject({ currency: { code: expect.any(String) } });
    const redeemed = await shop.redeemer.redeem();
    expect(redeemed).toMatchObject({ credited: 1, amount: '60' });
    // Credited at the broker minus the 2 % fee (rounded up), then paid out to the bank by settlement.
    // `credited` is the broker's record of what it credited for this vendor's claims (gross), which matches
    // what the vendor redeemed.
    expect((await (await fetch(`${shop.url}/netpay/statement`)).json()).broker).toEqual({
      balance: '58',
      paidOut: '0',
      payoutsPending: '0',
      credited: '60',
      matches: true,
    });
    const run = await w.call('POST', '/admin/settlement/run', { token: ADMIN });
    expect(run.status, JSON.stringify(run.body)).toBe(200);
    const after = await (await fetch(`${shop.url}/netpay/statement`)).json();
    expect(after).toMatchObject({
      redeemed: '60',
      broker: { balance: '0', paidOut: '58', payoutsPending: '0' },
    });
    await w.audit();
  });
});
