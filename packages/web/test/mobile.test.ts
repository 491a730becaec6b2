import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { seedPgliteDataDir } from '@netpay/db/testing';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureChromium } from '../../../tools/chromium.ts';
import { type Customer, startWorld, type World } from '../../broker/test/world.ts';
import { PriceListSchema, startVendorServer } from '../../gate/src/server.ts';
import { startWeb } from '../server.ts';

const OUT = fileURLToPath(new URL('../../../test-output/mobile', import.meta.url));

/**
 * Mobile-NetPay on a 390-pixel phone screen, no wallet software: the customer first buys from the operator
 * (the broker's web page: signs in on the new phone with the code sent to it, loads money from her bank),
 * then opens a wallpaper, is shown the price with "Pay from my NetPay account", signs in at the broker
 * (password, the code, a spending cap), comes back and gets the wallpaper, charged to the broker-held
 * wallet; the operator's page lists the shop with its cap.
 */
describe('mobile view with a server-side wallet, 390 px [pglite]', () => {
  let w: World;
  let browser: Browser;
  let carol: Customer;
  let shopUrl = '';
  let walletUrl = '';
  const dir = mkdtempSync(join(tmpdir(), 'netpay-mobile-'));
  let close: () => Promise<void> = async () => {};

  beforeAll(async () => {
    const executablePath = ensureChromium();
    w = await startWorld('pglite');
    // Carol has money at her bank and none at the operator yet.
    carol = await w.newCustomer('carol', 1_000_000n, 0n);
    mkdirSync(join(dir, 'files', 'wallpapers'), { recursive: true });
    writeFileSync(
      join(dir, 'files', 'wallpapers', 'sunset.html'),
      '<!doctype html><meta name="viewport" content="width=device-width"><h1>Sunset wallpaper</h1>',
    );
    seedPgliteDataDir(join(dir, 'shop', 'db')); // a copy of the run's empty PGlite cluster: no initdb
    const shop = await startVendorServer({
      port: 0,
      folder: join(dir, 'files'),
      prices: PriceListSchema.parse({
        vendorId: 'tones',
        name: 'Tones & wallpapers',
        prices: { 'wallpapers/*': '50' },
      }),
      brokerUrl: w.url,
      dataDir: join(dir, 'shop'),
      redeemEveryMs: 0,
      clock: w.clock,
    });
    shopUrl = shop.url;
    const web = await startWeb({
      port: 0,
      outDir: join(dir, 'web'),
      broker: w.url,
      shops: [{ id: 'tones', name: 'Tones & wallpapers', url: shop.url, sample: '/wallpapers/sunset.html' }],
    });
    walletUrl = web.url;
    close = async () => {
      await web.close();
      await shop.close();
    };
    browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
    mkdirSync(OUT, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await close();
    await w?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('signs in at the operator and buys a wallpaper from the broker-held wallet', async () => {
    const page = await browser.newPage({
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
    });
    // A step that cannot happen fails with its locator's name, not as the whole test's timeout.
    page.setDefaultTimeout(20_000);
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));

    // First she buys from the operator (the broker) on its web page: signs in on this new phone with
    // the code sent to it, and loads 1.0000 USD from her bank.
    await page.goto(walletUrl);
    await page.getByLabel('Your login').fill(carol.login);
    await page.getByLabel('Password', { exact: true }).fill('correct horse battery');
    await page.getByLabel('Password', { exact: true }).press('Enter');
    // The field shows once the code is sent: only then is the latest code the new one.
    await page.getByLabel('The 6-digit code we sent you').waitFor();
    await page.getByLabel('The 6-digit code we sent you').fill(await w.latestCode(carol.login));
    await page.getByLabel('The 6-digit code we sent you').press('Enter');
    await expect.poll(() => page.getByRole('status').textContent()).toContain('signed in');
    await page.getByLabel('Amount to load').fill('1.0000');
    await page.getByLabel('Bank account').fill(carol.bankAccount);
    await page.getByLabel('Bank token').fill(carol.bankToken);
    await page.getByLabel('Bank token').press('Enter');
    await expect.poll(() => page.getByRole('status').textContent()).toContain('Loaded 1.0000 USD');
    await expect.poll(() => page.getByTestId('at-broker').textContent()).toBe('1.0000 USD');
    await page.screenshot({ path: join(OUT, '0-operator.png') });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    const before = BigInt((await w.call('GET', '/me', { token: carol.token })).body.balance);
    expect(before).toBe(10_000n);

    await page.goto(`${shopUrl}/wallpapers/sunset.html`);
    await expect.poll(() => page.textContent('body')).toContain('0.0050 USD');
    await page.screenshot({ path: join(OUT, '1-price.png') });
    await page.getByRole('link', { name: 'Pay from my NetPay account' }).click();

    await page.getByLabel('Login').fill(carol.login);
    await page.getByLabel('Password').fill('correct horse battery');
    await page.getByRole('button', { name: 'Continue' }).click();
    // The field shows once the code is sent: only then is the latest code the new one.
    await page.getByLabel('Code').waitFor();
    await page.getByLabel('Code').fill(await w.latestCode(carol.login));
    await page.getByLabel('Spending cap (USD)').fill('1.00');
    await page.screenshot({ path: join(OUT, '2-sign-in.png') });
    await page.getByRole('button', { name: 'Allow and go back' }).click();

    await expect.poll(() => page.textContent('body')).toContain('Sunset wallpaper');
    expect(new URL(page.url()).pathname).toBe('/wallpapers/sunset.html');
    await page.screenshot({ path: join(OUT, '3-wallpaper.png') });
    // Nothing wider than the phone.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);

    const grants = (await w.call('GET', '/me/wallet/grants', { token: carol.token })).body.grants;
    expect(grants).toEqual([
      expect.objectContaining({ vendorId: 'tones', cap: '10000', spent: '50', active: true }),
    ]);
    expect(BigInt((await w.call('GET', '/me', { token: carol.token })).body.balance)).toBe(before - 50n);
    // Back on the operator's page, the shop is listed with its cap and what it charged.
    await page.goto(walletUrl);
    await expect
      .poll(() => page.getByTestId('grants').textContent())
      .toContain('Tones & wallpapers1.0000 USD a day0.0050 USD');
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    expect(errors).toEqual([]);
    await w.audit();
  });
});
