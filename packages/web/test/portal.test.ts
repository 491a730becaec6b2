import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient, operationsIn, operationsOf, webApi } from '@netpay/api';
import Fastify from 'fastify';
import { type Browser, chromium, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureChromium } from '../../../tools/chromium.ts';
import { ADMIN, startWorld, type World } from '../../broker/test/world.ts';
import { shopsFor, startGreetings, startMusic } from '../../cli/src/demo/sites.ts';
import { startWeb } from '../server.ts';

const OUT = fileURLToPath(new URL('../../../test-output/web', import.meta.url));

/**
 * The whole customer flow in Debian's chromium (playwright-core), driven by the keyboard, against the
 * demo's real shops: a new customer registers, enters the code, loads money, buys coins, sends a card at
 * E-greetings' own page (the embedded wallet frame pays; the recipient opens the link), streams 30 s at
 * E-music's page (the chain is handed over), is asked above the shop's ask limit and stopped at its daily
 * limit, hits the wallet page's per-click limit and refunds the rest; the broker's audit stays balanced.
 * Then the vendors' dashboard and the broker operator's page.
 */
describe('web wallet in chromium [pglite]', () => {
  let w: World;
  let browser: Browser;
  const dir = mkdtempSync(join(tmpdir(), 'netpay-web-'));
  const closers: (() => Promise<unknown>)[] = [];
  let walletUrl = '';
  let greetingsUrl = '';
  let musicUrl = '';

  beforeAll(async () => {
    const executablePath = ensureChromium();
    w = await startWorld('pglite');
    // E-music shares every coin with the label and the access operator: parties at the broker.
    await w.newVendor('demo-label');
    await w.newVendor('demo-operator');
    const site = (id: string) => ({
      port: 0,
      dataDir: join(dir, id),
      filesDir: join(dir, 'sites', id),
      brokerUrl: w.url,
      walletUrl: () => walletUrl,
      redeemEveryMs: 0,
      clock: w.clock,
    });
    const greetings = await startGreetings(site('e-greetings'));
    closers.push(() => greetings.close());
    const music = await startMusic(site('e-music'));
    closers.push(() => music.close());
    greetingsUrl = greetings.url;
    musicUrl = music.url;
    const web = await startWeb({
      port: 0,
      outDir: join(dir, 'web'),
      broker: w.url,
      shops: shopsFor(greetings, music),
    });
    closers.push(() => web.close());
    walletUrl = web.url;
    browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
    mkdirSync(OUT, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    for (const c of closers.reverse()) await c();
    await w?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Fills a form by its labels and submits it with Enter, as a keyboard user would. */
  async function submit(page: Page, fields: Record<string, string>) {
    let last = '';
    for (const [label, value] of Object.entries(fields)) {
      await page.getByLabel(label, { exact: true }).fill(value);
      last = label;
    }
    await page.getByLabel(last, { exact: true }).press('Enter');
  }
  const notice = (page: Page) => page.getByRole('status');

  /** Fills a card's form on E-greetings' page (from Sam) and sends it with Enter. */
  async function sendCard(form: Locator, to: string, message?: string) {
    await form.getByLabel('To').fill(to);
    await form.getByLabel('From').fill('Sam');
    if (message) await form.getByLabel('Message').fill(message);
    await form.getByLabel('From').press('Enter');
  }

  /** A new customer on the wallet page by keyboard: registers, enters the code, is signed in. */
  async function register(page: Page, name: string) {
    await page.goto(walletUrl);
    const login = `${name}-${Date.now()}@example.com`;
    await submit(page, {
      'E-mail or phone': login,
      'Password (10 characters or more)': 'correct horse battery',
    });
    await expect.poll(() => notice(page).textContent()).toContain('A code was sent');
    await submit(page, { 'The 6-digit code we sent you': await w.latestCode(login) });
    await expect.poll(() => notice(page).textContent()).toContain('signed in');
    return login;
  }

  it('registers, loads, buys coins, sends a card, streams 30 s, meets its limits and refunds', async () => {
    const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
    const page = await context.newPage();
    const errors: string[] = [];
    context.on('weberror', (e) => errors.push(e.error().message));
    const login = await register(page, 'web');
    await expect.poll(() => page.getByTestId('no-grants').textContent()).toContain('No shop charges');

    const bank = await w.bankClient.createAccount({ name: 'web', initialBalance: 1_000_000n });
    await submit(page, { 'Amount to load': '5.0000', 'Bank account': bank.id, 'Bank token': bank.token });
    await expect.poll(() => notice(page).textContent()).toContain('Loaded 5.0000 USD');
    await page.getByLabel('Coin value').selectOption('10');
    await submit(page, { 'How many coins': '1e3' });
    await expect
      .poll(() => page.getByRole('alert').textContent())
      .toContain('How many coins: a whole number');
    await submit(page, { 'How many coins': '100' });
    await expect.poll(() => notice(page).textContent()).toContain('Bought 100 coins for 0.1000 USD');
    await expect.poll(() => page.getByTestId('coins').textContent()).toBe('0.1000 USD');

    // From the wallet page itself: a card at E-greetings.
    await page.getByRole('button', { name: 'Buy /cards/birthday.html at E-greetings' }).click();
    await expect.poll(() => notice(page).textContent()).toContain('Paid 0.0050 USD to E-greetings');
    await expect.poll(() => page.getByTestId('bought').textContent()).toContain('Many happy returns!');

    // At E-greetings' own page: browse for free, send a card; the wallet frame pays (below the ask limit).
    const shop = await context.newPage();
    await shop.goto(`${greetingsUrl}/`);
    const birthday = shop.locator('form[data-card="birthday"]');
    await sendCard(birthday, 'Grandma', 'Happy birthday <3');
    await expect.poll(() => birthday.getByRole('status').textContent()).toContain('Sent (paid 0.0050 USD)');
    const link = await birthday.getByTestId('card-link').getAttribute('href');
    await shop.screenshot({ path: join(OUT, 'greetings-sent.png'), fullPage: true });
    // The recipient opens the link: no wallet, no payment.
    const recipient = await browser.newPage();
    await recipient.goto(link!);
    expect(await recipient.getByTestId('received').textContent()).toContain('Happy birthday <3');
    expect(await recipient.textContent('h1')).toBe('A card for Grandma');
    await recipient.close();

    // At E-music's own page: 30 seconds of streaming, a coin per 10-second part. The chain E-greetings
    // held moves to E-music (hand-over) on the first part.
    const music = await context.newPage();
    await music.goto(`${musicUrl}/`);
    await music
      .getByRole('button', { name: /Stream it/ })
      .first()
      .click();
    await expect
      .poll(() => music.getByTestId('stream-status').textContent(), { timeout: 60_000 })
      .toContain('part 2 of 3, 2 coin(s) paid — shared: E-music 20%, Demo Records (label) 70%');
    await expect
      .poll(() => music.getByTestId('stream-status').textContent(), { timeout: 60_000 })
      .toBe('Played Morning tone: all 3 parts paid.');
    await music.screenshot({ path: join(OUT, 'music-streamed.png'), fullPage: true });

    // The wallet page shows what the shops' pages paid (another tab).
    await page.bringToFront();
    await expect.poll(() => page.getByTestId('coins').textContent()).toBe('0.0870 USD');

    // Limits for E-greetings: ask above 0.0010, at most 0.0150 a day (0.0100 spent there so far).
    const limits = page.locator('form[data-shop="e-greetings"]');
    await limits.getByLabel('Pay without asking up to').fill('0.0010');
    await limits.getByLabel('At most, per day').fill('0.0150');
    await limits.getByLabel('At most, per day').press('Enter');
    await expect.poll(() => notice(page).textContent()).toContain('Limits for E-greetings saved');

    await shop.bringToFront();
    const thanks = shop.locator('form[data-card="thanks"]');
    await thanks.getByLabel('To').fill('Kim');
    await thanks.getByLabel('From').fill('Sam');
    const frame = shop.frameLocator('iframe[title="NetPay wallet"]');
    const focusOn = (id: string) => frame.locator(id).evaluate((b) => b === document.activeElement);
    // Above the ask limit the frame asks, its focus on "Don't pay"; Escape says no and nothing is paid.
    await thanks.getByLabel('From').press('Enter');
    await expect
      .poll(() => frame.locator('#what').textContent())
      .toBe('E-greetings asks 0.0050 USD for send the thanks card.');
    await expect.poll(() => focusOn('#cancel')).toBe(true);
    await expect.poll(() => frame.getByRole('alertdialog').isVisible()).toBe(true);
    await shop.screenshot({ path: join(OUT, 'greetings-ask.png') });
    await shop.keyboard.press('Escape');
    await expect.poll(() => thanks.getByRole('status').textContent()).toContain('You did not pay.');
    // Asked again: Pay answers once the question has been on screen a moment; Shift+Tab, Enter pays.
    await thanks.getByLabel('From').press('Enter');
    await expect.poll(() => focusOn('#cancel')).toBe(true);
    await expect.poll(() => frame.locator('#pay').isEnabled()).toBe(true);
    await shop.keyboard.press('Shift+Tab');
    await expect.poll(() => focusOn('#pay')).toBe(true);
    await shop.keyboard.press('Enter');
    await expect.poll(() => thanks.getByRole('status').textContent()).toContain('Sent (paid 0.0050 USD)');
    // The day's limit at E-greetings is reached: refused before paying, said on the shop's page.
    const congrats = shop.locator('form[data-card="congrats"]');
    await sendCard(congrats, 'Lee');
    await expect
      .poll(() => congrats.getByRole('status').textContent())
      .toContain('Spending limit reached for this shop today');
    await shop.screenshot({ path: join(OUT, 'greetings-limit.png'), fullPage: true });

    // The wallet page's own per-click limit: refused before anything is paid, and said so.
    await page.bringToFront();
    await expect.poll(() => page.getByTestId('coins').textContent()).toBe('0.0820 USD');
    await page.screenshot({ path: join(OUT, 'wallet.png'), fullPage: true });
    await page.getByLabel('Pay at most, per click').fill('0.0010');
    await page.getByRole('button', { name: 'Buy /cards/birthday.html at E-greetings' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('over the most per request');

    await page.getByRole('button', { name: 'Refund unspent coins' }).click();
    await expect.poll(() => notice(page).textContent()).toContain('Refunded');
    await expect.poll(() => page.getByTestId('coins').textContent()).toBe('0.0000 USD');
    const rows = await page.getByTestId('history').locator('tr').allTextContents();
    expect(rows).toHaveLength(6);
    expect(rows.every((r) => r.includes('accepted'))).toBe(true);

    // No coins left: E-greetings offers the NetPay account (the server-side wallet) instead.
    await shop.bringToFront();
    await congrats.getByLabel('From').press('Enter');
    await expect.poll(() => congrats.getByRole('status').textContent()).toContain('cannot pay this');
    await congrats.getByRole('link', { name: 'Pay from my NetPay account instead' }).click();
    await shop.getByLabel('Login').fill(login);
    await shop.getByLabel('Password').fill('correct horse battery');
    await shop.getByLabel('Password').press('Enter');
    // The field shows once the code is sent: only then is the latest code the new one.
    await shop.getByLabel('Code').waitFor();
    await shop.getByLabel('Code').fill(await w.latestCode(login));
    await shop.getByLabel('Spending cap (USD)').fill('0.1000');
    await shop.getByLabel('Spending cap (USD)').press('Enter');
    await expect.poll(() => shop.url()).toBe(`${greetingsUrl}/`);
    await sendCard(congrats, 'Lee');
    await expect
      .poll(() => congrats.getByRole('status').textContent())
      .toContain('Sent. Give this link to Lee');
    // The wallet page lists the shop's cap on the account; stopping it stops the charges.
    await page.bringToFront();
    await page.reload();
    await expect
      .poll(() => page.getByTestId('grants').textContent())
      .toContain('E-greetings0.1000 USD a day0.0050 USD');
    await page.getByRole('button', { name: 'Stop E-greetings charging my account' }).press('Enter');
    await expect.poll(() => notice(page).textContent()).toContain('E-greetings can no longer charge');
    await shop.bringToFront();
    await congrats.getByLabel('From').press('Enter');
    await expect.poll(() => congrats.getByRole('status').textContent()).toContain('cannot pay this');
    expect(errors).toEqual([]);
    await w.audit();

    // The vendors' dashboard on the same machine: revenue chart, coins accepted, payout status.
    const board = await browser.newPage({ viewport: { width: 1100, height: 1200 } });
    board.on('pageerror', (e) => errors.push(e.message));
    await board.goto(`${walletUrl}/dashboard.html`);
    await expect.poll(() => board.getByTestId('accepted-e-greetings').textContent()).toBe('0.0150 USD');
    await expect.poll(() => board.getByTestId('accepted-e-music').textContent()).toBe('0.0030 USD');
    await expect.poll(() => board.locator('canvas').count()).toBe(2);
    // The card charged to the NetPay account (server-side wallet).
    expect(await board.getByTestId('wallet-e-greetings').textContent()).toBe('0.0050 USD');
    await board.screenshot({ path: join(OUT, 'dashboard.png'), fullPage: true });

    // The broker operator's page: a wrong token is refused visibly; the right one shows the books.
    const admin = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    admin.on('pageerror', (e) => errors.push(e.message));
    await admin.goto(`${walletUrl}/admin.html`);
    await admin.getByLabel('Admin token').fill('not the token');
    await admin.getByLabel('Admin token').press('Enter');
    await expect.poll(() => admin.getByRole('alert').textContent()).toContain('admin token required');
    await admin.getByLabel('Admin token').fill(ADMIN);
    await admin.getByLabel('Admin token').press('Enter');
    await expect.poll(() => admin.getByTestId('verdict').textContent()).toBe('Balanced');
    // The page shows the ledger's own figure for coins outstanding.
    const books = await w.audit();
    const coins = BigInt(books.totals.coins).toString().padStart(5, '0');
    expect(await admin.getByTestId('total-coins').textContent()).toBe(
      `${coins.slice(0, -4)}.${coins.slice(-4)} USD`,
    );
    await admin.screenshot({ path: join(OUT, 'admin.png'), fullPage: true });
    expect(errors).toEqual([]);
  }, 180_000);

  it('pays from a wallet window when the shop is on another site than the wallet', async () => {
    // The wallet at localhost, the shop at 127.0.0.1: two sites, so the browser keeps the embedded frame's
    // storage apart from the wallet page's, and the frame finds no wallet.
    const sameSite = walletUrl;
    walletUrl = walletUrl.replace('127.0.0.1', 'localhost');
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      const errors: string[] = [];
      context.on('weberror', (e) => errors.push(e.error().message));
      await register(page, 'window');
      const bank = await w.bankClient.createAccount({ name: 'window', initialBalance: 1_000_000n });
      await submit(page, { 'Amount to load': '1.0000', 'Bank account': bank.id, 'Bank token': bank.token });
      await expect.poll(() => notice(page).textContent()).toContain('Loaded 1.0000 USD');
      await page.getByLabel('Coin value').selectOption('10');
      await submit(page, { 'How many coins': '20' });
      await expect.poll(() => page.getByTestId('coins').textContent()).toBe('0.0200 USD');

      const shop = await context.newPage();
      await shop.goto(`${greetingsUrl}/`);
      const card = shop.locator('form[data-card="thanks"]');
      await sendCard(card, 'Ana');
      await expect.poll(() => card.getByRole('status').textContent()).toContain('pay in a wallet window');
      const opened = context.waitForEvent('page');
      await card.getByRole('button', { name: 'Pay in a NetPay wallet window' }).press('Enter');
      const win = await opened;
      expect(new URL(win.url()).host).toBe(new URL(walletUrl).host);
      await expect.poll(() => card.getByRole('status').textContent()).toContain('Sent (paid 0.0050 USD)');
      await expect.poll(() => win.isClosed()).toBe(true);
      await page.reload();
      await expect.poll(() => page.getByTestId('coins').textContent()).toBe('0.0150 USD');
      expect(errors).toEqual([]);
      await w.audit();
    } finally {
      walletUrl = sameSite;
      await context.close();
    }
  });

  it('answers its own API as its contract says (@netpay/api webApi) and lists it at /docs', async () => {
    const docs = await (await fetch(`${walletUrl}/docs/json`)).json();
    expect(operationsIn(docs)).toEqual(operationsOf(webApi));
    const site = createClient(webApi, { url: walletUrl });
    expect((await site.config({})).shops.map((s) => s.id)).toEqual(['e-greetings', 'e-music']);
    expect((await site.dashboard({ params: { id: 'e-music' } })).name).toBe('E-music');
    await expect(site.dashboard({ params: { id: 'nobody' } })).rejects.toMatchObject({
      code: 'not_found',
      status: 404,
    });
  });

  it('pays nothing for a page that is not the shop it names, or for another site', async () => {
    // The wallet's own pages cannot be framed; the wallet frame can (by any shop).
    expect((await fetch(`${walletUrl}/`)).headers.get('content-security-policy')).toBe(
      "frame-ancestors 'none'",
    );
    expect((await fetch(`${walletUrl}/pay.html`)).headers.get('content-security-policy')).toBe(
      'frame-ancestors *',
    );
    // A site that embeds the wallet script and answers 402 with E-greetings' name (and its generous limits).
    const evil = Fastify();
    evil.get('/', async (_req, reply) =>
      reply
        .type('text/html')
        .send(`<!doctype html><title>Not E-greetings</title><script src="${walletUrl}/netpay.js"></script>`),
    );
    evil.get('/item', async (_req, reply) => {
      reply
        .header('access-control-allow-origin', '*')
        .header('access-control-expose-headers', 'netpay-receipt');
      return reply.code(402).send({
        code: 'payment_required',
        message: 'pay',
        terms: {
          v: 1,
          vendorId: 'e-greetings',
          resource: 'GET /item',
          price: '10',
          currency: 'USD',
          exponent: 4,
          brokers: [{ url: w.url }],
        },
      });
    });
    await evil.listen({ port: 0, host: '127.0.0.1' });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`http://127.0.0.1:${(evil.server.address() as AddressInfo).port}/`);
      const attempt = (url: string) =>
        page.evaluate(
          (u) =>
            (window as unknown as { NetPay: { fetch(u: string): Promise<Response> } }).NetPay.fetch(u).then(
              (r) => ({ status: r.status, code: '', message: '' }),
              (e: { code: string; message: string }) => ({ status: 0, code: e.code, message: e.message }),
            ),
          url,
        );
      expect(await attempt('/item')).toMatchObject({ code: 'vendor_mismatch' });
      // Messages straight to the frame: another site's URL, and a malformed request. The refusal above may
      // come from the page's script before the frame has loaded (a message sent then is lost), so each is
      // sent again every 200 ms until the frame answers (both are refused, so sending again changes nothing).
      const post = (message: unknown) =>
        page.evaluate(
          (m) =>
            new Promise((resolve) => {
              const frame = document.querySelector('iframe')!;
              const send = () => frame.contentWindow!.postMessage(m, new URL(frame.src).origin);
              const again = setInterval(send, 200);
              addEventListener('message', (ev) => {
                const mine = ev.data?.id === (m as { id: unknown }).id;
                if (ev.source !== frame.contentWindow || ev.data?.type !== 'result' || !mine) return;
                clearInterval(again);
                resolve(ev.data);
              });
              send();
            }),
          message,
        );
      expect(
        await post({
          type: 'pay',
          id: 7,
          url: `${greetingsUrl}/cards/birthday.html`,
          method: 'GET',
          headers: [],
          body: null,
          deadline: Date.now() + 60_000,
        }),
      ).toMatchObject({ id: 7, ok: false, code: 'wrong_origin' });
      expect(await post({ type: 'pay', id: 8, url: 'javascript:alert(1)' })).toMatchObject({
        id: 8,
        ok: false,
        code: 'bad_request',
      });
      expect(errors).toEqual([]);
    } finally {
      await evil.close();
    }
  });
});
