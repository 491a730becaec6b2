import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureChromium } from '../../../tools/chromium.ts';
import { type Customer, startWorld, type World } from '../../broker/test/world.ts';
import { PriceListSchema, startVendorServer } from '../../vendor/src/server.ts';

const OUT = fileURLToPath(new URL('../../../test-output/mobile', import.meta.url));

/**
 * Mobile-NetPay on a 390-pixel phone screen, no wallet software: the customer opens a wallpaper, is shown
 * the price with "Pay from my NetPay account", signs in at the broker (password, then the code sent to
 * the phone, and a spending cap), comes back and gets the wallpaper, charged to the broker-held wallet.
 */
describe('mobile view with a server-side wallet, 390 px [pglite]', () => {
  let w: World;
  let browser: Browser;
  let carol: Customer;
  let shopUrl = '';
  const dir = mkdtempSync(join(tmpdir(), 'netpay-mobile-'));
  let close: () => Promise<void> = async () => {};

  beforeAll(async () => {
    const executablePath = ensureChromium();
    w = await startWorld('pglite');
    carol = await w.newCustomer('carol', 1_000_000n, 100_000n);
    mkdirSync(join(dir, 'files', 'wallpapers'), { recursive: true });
    writeFileSync(
      join(dir, 'files', 'wallpapers', 'sunset.html'),
      '<!doctype html><meta name="viewport" content="width=device-width"><h1>Sunset wallpaper</h1>',
    );
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
    close = shop.close;
    shopUrl = shop.url;
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
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const before = BigInt((await w.call('GET', '/me', { token: carol.token })).body.balance);

    await page.goto(`${shopUrl}/wallpapers/sunset.html`);
    await expect.poll(() => page.textContent('body')).toContain('0.0050 USD');
    await page.screenshot({ path: join(OUT, '1-price.png') });
    await page.getByRole('link', { name: 'Pay from my NetPay account' }).click();

    await page.getByLabel('Login').fill(carol.login);
    await page.getByLabel('Password').fill('correct horse battery');
    await page.getByRole('button', { name: 'Continue' }).click();
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
    expect(errors).toEqual([]);
    await w.audit();
  });
});
