import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureChromium } from '../../../tools/chromium.ts';
import { ADMIN, startWorld, type World } from '../../broker/test/world.ts';
import { PriceListSchema, startVendorServer } from '../../vendor/src/server.ts';
import { toneWav } from '../media.ts';
import { startWeb } from '../server.ts';

const OUT = fileURLToPath(new URL('../../../test-output/web', import.meta.url));

/**
 * The web wallet in Debian's chromium (playwright-core), driven by the keyboard: a new customer registers,
 * enters the code, loads money, buys coins, pays two shops on other origins (the second payment moves the
 * chain over), hits the per-click limit, refunds the rest; the broker's audit stays balanced.
 */
describe('web wallet in chromium [pglite]', () => {
  let w: World;
  let browser: Browser;
  const dir = mkdtempSync(join(tmpdir(), 'netpay-web-'));
  const closers: (() => Promise<unknown>)[] = [];
  let walletUrl = '';

  beforeAll(async () => {
    const executablePath = ensureChromium();
    w = await startWorld('pglite');
    const files = join(dir, 'files');
    mkdirSync(join(files, 'cards'), { recursive: true });
    mkdirSync(join(files, 'tracks'), { recursive: true });
    writeFileSync(join(files, 'cards', 'birthday.html'), '<h1>Happy birthday!</h1>');
    writeFileSync(join(files, 'tracks', 'song.txt'), 'la la la');
    // A track streamed in three 10-second parts, one coin each: 30 seconds of listening.
    mkdirSync(join(files, 'stream', 'a'), { recursive: true });
    for (let k = 0; k < 3; k++)
      writeFileSync(join(files, 'stream', 'a', `${k}.wav`), toneWav(440 + 40 * k, 10));
    const shops = [];
    for (const [id, name, sample, price] of [
      ['cards-shop', 'Cards', '/cards/birthday.html', '50'],
      ['songs-shop', 'Songs', '/tracks/song.txt', '50'],
    ] as const) {
      const v = await startVendorServer({
        port: 0,
        folder: files,
        prices: PriceListSchema.parse({
          vendorId: id,
          name,
          prices: { 'cards/*': price, 'tracks/*': price, 'stream/**': '10' },
        }),
        brokerUrl: w.url,
        dataDir: join(dir, id),
        redeemEveryMs: 0,
        clock: w.clock,
      });
      closers.push(() => v.close());
      shops.push({
        id,
        name,
        url: v.url,
        sample,
        ...(id === 'songs-shop'
          ? { streams: [{ title: 'Song A', parts: [0, 1, 2].map((k) => `/stream/a/${k}.wav`) }] }
          : {}),
      });
    }
    const web = await startWeb({ port: 0, outDir: join(dir, 'web'), broker: w.url, shops });
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

  it('registers, loads, buys coins, pays two shops, streams 30 s, stops at the limit and refunds', async () => {
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(walletUrl);
    const login = `web-${Date.now()}@example.com`;
    await submit(page, {
      'E-mail or phone': login,
      'Password (10 characters or more)': 'correct horse battery',
    });
    await expect.poll(() => notice(page).textContent()).toContain('A code was sent');
    await submit(page, { 'The 6-digit code we sent you': await w.latestCode(login) });
    await expect.poll(() => notice(page).textContent()).toContain('signed in');

    const bank = await w.bankClient.createAccount({ name: 'web', initialBalance: 1_000_000n });
    await submit(page, { 'Amount to load': '5.0000', 'Bank account': bank.id, 'Bank token': bank.token });
    await expect.poll(() => notice(page).textContent()).toContain('Loaded 5.0000 USD');
    await page.getByLabel('Coin value').selectOption('10');
    await submit(page, { 'How many coins': '100' });
    await expect.poll(() => notice(page).textContent()).toContain('Bought 100 coins for 0.1000 USD');
    await expect.poll(() => page.getByTestId('coins').textContent()).toBe('0.1000 USD');

    await page.getByRole('button', { name: 'Buy /cards/birthday.html at Cards' }).click();
    await expect.poll(() => notice(page).textContent()).toContain('Paid 0.0050 USD to Cards');
    await expect.poll(() => page.getByTestId('bought').textContent()).toContain('Happy birthday!');
    await page.getByRole('button', { name: 'Buy /tracks/song.txt at Songs' }).click();
    await expect.poll(() => notice(page).textContent()).toContain('Paid 0.0050 USD to Songs');
    await expect.poll(() => page.getByTestId('coins').textContent()).toBe('0.0900 USD');

    // 30 seconds of music at Songs, one coin per 10-second part, each paid as it starts.
    await page.getByRole('button', { name: 'Stream Song A' }).click();
    await expect
      .poll(() => page.getByTestId('stream-status').textContent(), { timeout: 60_000 })
      .toContain('part 2 of 3');
    await expect
      .poll(() => page.getByTestId('stream-status').textContent(), { timeout: 60_000 })
      .toBe('Played Song A: 3 parts for 0.0030 USD.');
    await expect.poll(() => page.getByTestId('coins').textContent()).toBe('0.0870 USD');
    await page.screenshot({ path: join(OUT, 'wallet.png'), fullPage: true });

    // Below the price: refused before anything is paid, and said so.
    await page.getByLabel('Pay at most, per click').fill('0.0010');
    await page.getByRole('button', { name: 'Buy /cards/birthday.html at Cards' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('over the most per request');
    await page.screenshot({ path: join(OUT, 'limit.png'), fullPage: true });

    await page.getByRole('button', { name: 'Refund unspent coins' }).click();
    await expect.poll(() => notice(page).textContent()).toContain('Refunded');
    await expect.poll(() => page.getByTestId('coins').textContent()).toBe('0.0000 USD');
    const rows = await page.getByTestId('history').locator('tr').allTextContents();
    expect(rows).toHaveLength(5);
    expect(rows.every((r) => r.includes('accepted'))).toBe(true);
    expect(errors).toEqual([]);
    await w.audit();

    // The vendors' dashboard on the same machine: revenue chart, coins accepted, payout status.
    const board = await browser.newPage({ viewport: { width: 1100, height: 1200 } });
    board.on('pageerror', (e) => errors.push(e.message));
    await board.goto(`${walletUrl}/dashboard.html`);
    await expect.poll(() => board.getByTestId('accepted-cards-shop').textContent()).toBe('0.0050 USD');
    await expect.poll(() => board.getByTestId('accepted-songs-shop').textContent()).toBe('0.0080 USD');
    await expect.poll(() => board.locator('canvas').count()).toBe(2);
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
});
