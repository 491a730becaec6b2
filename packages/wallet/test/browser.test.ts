import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { migrate } from '@netpay/db';
import { openTestDatabase } from '@netpay/db/testing';
import { build } from 'esbuild';
import Fastify, { type FastifyInstance } from 'fastify';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureChromium } from '../../../tools/chromium.ts';
import { startWorld, type Vendor, type World } from '../../broker/test/world.ts';
import { createBrokerClient } from '../../gate/src/broker-client.ts';
import { createGate } from '../../gate/src/gate.ts';
import { netpayFastify } from '../../gate/src/http/fastify.ts';
import { createChainStore, VENDOR_MIGRATIONS } from '../../gate/src/store/store.ts';

const OUT = fileURLToPath(new URL('../../../test-output/wallet', import.meta.url));

/**
 * payFetch in a real page (Debian's chromium, driven by playwright-core): the wallet is the browser
 * bundle of @netpay/wallet (noble crypto), keeps its state in IndexedDB, buys coins from the broker
 * (cross-origin, CORS) and pays a demo vendor's priced route. A reload keeps the wallet.
 */
describe('payFetch in chromium with an IndexedDB wallet [pglite]', () => {
  let w: World;
  let vendor: Vendor;
  let app: FastifyInstance;
  let url: string;
  let browser: Browser;

  beforeAll(async () => {
    const executablePath = ensureChromium();
    w = await startWorld('pglite');
    vendor = await w.newVendor();
    const db = await openTestDatabase('pglite');
    await migrate(db, VENDOR_MIGRATIONS);
    const gate = createGate({
      vendorId: vendor.id,
      signer: vendor.signer,
      broker: createBrokerClient({ url: w.url, vendorId: vendor.id, signer: vendor.signer, clock: w.clock }),
      brokerUrl: w.url,
      store: createChainStore({ db, clock: w.clock }),
      currency: { code: 'USD', exponent: 4 },
      clock: w.clock,
    });
    const bundle = await build({
      entryPoints: [fileURLToPath(new URL('../src/index.ts', import.meta.url))],
      bundle: true,
      write: false,
      format: 'iife',
      globalName: 'NetPay',
      platform: 'browser',
      conditions: ['@netpay/source', 'browser'],
      target: 'es2022',
    });
    app = Fastify();
    netpayFastify(app, gate);
    app.addHook('onClose', () => db.close());
    app.get('/', async (_req, reply) =>
      reply
        .type('text/html')
        .send(
          '<!doctype html><title>greetings</title><script src="/wallet.js"></script><h1>E-greetings</h1><p id="out"></p>',
        ),
    );
    app.get('/wallet.js', async (_req, reply) =>
      reply.type('text/javascript').send(bundle.outputFiles[0]!.text),
    );
    app.get('/card', { config: { netpay: { amount: 25n, description: 'one card' } } }, async () => ({
      card: 'Happy birthday!',
    }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
    mkdirSync(OUT, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await w?.close();
  });

  it('registers, buys coins and pays a vendor from the page, and keeps the wallet across a reload', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(url);
    const login = `browser-${Date.now()}@example.com`;
    const bank = await w.bankClient.createAccount({ name: 'browser', initialBalance: 1_000_000n });
    await page.evaluate(
      async ({ brokerUrl, login }) => {
        const NetPay = (window as unknown as { NetPay: typeof import('../src/index.ts') }).NetPay;
        const wallet = await NetPay.openWallet({ storage: NetPay.indexedDbStorage('demo'), brokerUrl });
        await wallet.register({ login, password: 'correct horse battery' });
      },
      { brokerUrl: w.url, login },
    );
    const code = await w.latestCode(login);
    const result = await page.evaluate(
      async ({ code, account, token }) => {
        const NetPay = (window as unknown as { NetPay: typeof import('../src/index.ts') }).NetPay;
        const wallet = await NetPay.openWallet({ storage: NetPay.indexedDbStorage('demo') });
        await wallet.verify(code);
        await wallet.load(10_000n, { account, token });
        await wallet.buy([
          { coinValue: 5n, n: 40 },
          { coinValue: 1n, n: 40 },
        ]);
        const payFetch = NetPay.createPayFetch(wallet, { policy: { maxPerRequest: 100n } });
        const res = await payFetch('/card');
        const body = await res.json();
        document.querySelector('#out')!.textContent =
          `${body.card} (paid ${res.netpay?.paid} to ${res.netpay?.vendorId})`;
        const again = await payFetch('/card');
        const balance = await wallet.balance();
        return {
          status: res.status,
          again: again.status,
          paid: String(res.netpay?.paid),
          coins: String(balance.coins),
          history: wallet.history().map((h: { status: string }) => h.status),
        };
      },
      { code, account: bank.id, token: bank.token },
    );
    expect(errors).toEqual([]);
    expect(result).toEqual({
      status: 200,
      again: 200,
      paid: '25',
      coins: String(240 - 50),
      history: ['accepted', 'accepted'],
    });
    await page.screenshot({ path: join(OUT, 'paid-card.png') });

    await page.reload();
    const after = await page.evaluate(async () => {
      const NetPay = (window as unknown as { NetPay: typeof import('../src/index.ts') }).NetPay;
      const wallet = await NetPay.openWallet({ storage: NetPay.indexedDbStorage('demo') });
      return {
        coins: String((await wallet.balance({ broker: false })).coins),
        payments: wallet.history().length,
      };
    });
    expect(after).toEqual({ coins: '190', payments: 2 });
    await w.audit();
  });

  it('two tabs over one IndexedDB wallet take turns under a Web Lock: no payword is handed out twice', async () => {
    const context = await browser.newContext();
    const tabs = [await context.newPage(), await context.newPage()] as const;
    const errors: string[] = [];
    for (const tab of tabs) {
      tab.on('pageerror', (e) => errors.push(e.message));
      await tab.goto(url);
    }
    const login = `tabs-${Date.now()}@example.com`;
    const bank = await w.bankClient.createAccount({ name: 'tabs', initialBalance: 1_000_000n });
    type Tab = Window & {
      NetPay: typeof import('../src/index.ts');
      wallet: import('../src/index.ts').Wallet;
      pay: ReturnType<typeof import('../src/index.ts').createPayFetch>;
    };
    const open = (brokerUrl?: string) =>
      Promise.all(
        tabs.map((tab) =>
          tab.evaluate(async (brokerUrl) => {
            const t = window as unknown as Tab;
            t.wallet = await t.NetPay.openWallet({
              storage: t.NetPay.indexedDbStorage('tabs'),
              ...(brokerUrl ? { brokerUrl } : {}),
            });
            t.pay = t.NetPay.createPayFetch(t.wallet);
            return typeof navigator.locks?.request;
          }, brokerUrl),
        ),
      );
    expect(await open(w.url)).toEqual(['function', 'function']);
    await tabs[0].evaluate(async (login) => {
      await (window as unknown as Tab).wallet.register({ login, password: 'correct horse battery' });
    }, login);
    const code = await w.latestCode(login);
    // The first tab signs in and buys; the second, opened before, learns of it at its next change.
    await tabs[0].evaluate(
      async ({ code, account, token }) => {
        const { wallet } = window as unknown as Tab;
        await wallet.verify(code);
        await wallet.load(10_000n, { account, token });
        await wallet.buy([{ coinValue: 1n, n: 200, count: 2 }]);
      },
      { code, account: bank.id, token: bank.token },
    );
    const pay = (tab: (typeof tabs)[number]) =>
      tab.evaluate(async () => (await (window as unknown as Tab).pay('/card')).status);
    expect(await pay(tabs[1])).toBe(200);
    expect(await pay(tabs[0])).toBe(200);
    expect(await pay(tabs[1])).toBe(200);
    // At the same time, each on a chain of its own (a chain with a payment in flight is not used).
    expect(await Promise.all([pay(tabs[0]), pay(tabs[1])])).toEqual([200, 200]);
    const seen = await Promise.all(
      tabs.map((tab) =>
        tab.evaluate(async () => {
          const { wallet } = window as unknown as Tab;
          await wallet.refresh();
          return {
            statuses: wallet.history().map((h) => h.status),
            parts: wallet.history().flatMap((h) => h.parts.map((p) => `${p.chainId}:${p.index}`)),
            coins: String((await wallet.balance({ broker: false })).coins),
          };
        }),
      ),
    );
    expect(seen[0]).toEqual(seen[1]);
    expect(seen[0]!.statuses).toEqual(Array(5).fill('accepted'));
    expect(new Set(seen[0]!.parts).size).toBe(seen[0]!.parts.length);
    expect(seen[0]!.coins).toBe(String(400 - 5 * 25));
    expect(errors).toEqual([]);
    await context.close();
    await w.audit();
  });
});
