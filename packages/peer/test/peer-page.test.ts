/**
 * The peer's web view in Debian's chromium (playwright-core), served by running peers (docs/p2p.md §6): a
 * CIS and two peers in this process as in p2p.test.ts. The seller first buys a small file from
 * the buyer (so it has demand and a ratio), then the buyer downloads the seller's file with getFile and
 * the seller redeems. The seller's page shows its file, what it sold and its earnings and ratio as the CIS
 * has them; each page shows its own download, done. Screenshots go to test-output/peer/.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { currency, formatMoney, money } from '@netpay/protocol';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureChromium } from '../../../tools/chromium.ts';
import { startWorld, type World } from '../../broker/test/world.ts';
import { getFile } from '../src/get.ts';
import { type RunningPeer, startPeer } from '../src/peer.ts';

const OUT = fileURLToPath(new URL('../../../test-output/peer', import.meta.url));
const CHUNK = 262_144;
const tmp = (p: string) => mkdtempSync(join(tmpdir(), `netpay-peer-page-${p}-`));

describe("a peer's web view in chromium [pglite]", () => {
  let w: World;
  let browser: Browser;
  const peers: RunningPeer[] = [];
  beforeAll(async () => {
    const executablePath = ensureChromium();
    w = await startWorld('pglite', { config: { p2p: { currency: 'tokens', grant: '1000000' } } });
    browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
    mkdirSync(OUT, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    for (const p of peers) await p.close().catch(() => {});
    await w?.close();
  });

  async function peer(name: string, file: string, bytes: number) {
    const share = tmp(`${name}-share`);
    writeFileSync(join(share, file), Buffer.alloc(bytes, name));
    const dataDir = tmp(`${name}-data`);
    const p = await startPeer({
      share,
      cisUrl: w.url,
      price: 10n,
      dataDir,
      clock: w.clock,
      redeemEveryMs: 0,
    });
    peers.push(p);
    return { p, dataDir, fileId: p.folder.list()[0]!.manifest.fileId };
  }

  it("shows the seller's file, sales, earnings and ratio, and each peer's download", async () => {
    const seller = await peer('seller', 'song.ogg', 5 * CHUNK + 1000); // 6 chunks
    const buyer = await peer('buyer', 'notes.txt', 2000); // 1 chunk
    const get = (fileId: string, dataDir: string, name: string) =>
      getFile({ fileId, cisUrl: w.url, dataDir, out: join(tmp('out'), name), clock: w.clock });
    await get(buyer.fileId, seller.dataDir, 'notes.txt');
    const got = await get(seller.fileId, buyer.dataDir, 'song.ogg');
    expect(got.spent).toBe(60n);
    expect(await seller.p.redeem()).toMatchObject({ credited: 1, amount: '60' });

    const config = await seller.p.cis.config({});
    const cur = currency(config.currency, config.exponent);
    const show = (minor: bigint | string) => formatMoney(money(BigInt(minor), cur));
    const me = await seller.p.cis.peerStatus({});
    expect(me.supply).toBe('60'); // gross; earnings are net of the CIS's fee
    expect(BigInt(me.earnings)).toBeGreaterThan(0n);
    expect(me.ratio).not.toBeNull(); // it bought the notes: demand > 0

    const page = await browser.newPage();
    await page.goto(`${seller.p.url}/netpay/peer`);
    await expect.poll(() => page.textContent('#peer-id')).toBe(seller.p.peerId);
    const song = page.locator(`#files tr[data-file-id="${seller.fileId}"]`);
    await expect.poll(() => song.locator('.name').textContent()).toBe('song.ogg');
    expect(await song.locator('.price').textContent()).toBe(show(10n));
    expect(await page.textContent('#sales-accepted')).toBe(show(60n));
    await expect.poll(() => page.textContent('#sales-redeemed')).toBe(show(60n));
    await expect.poll(() => page.textContent('#cis-earnings')).toBe(show(me.earnings));
    expect(await page.textContent('#cis-ratio')).toBe(me.ratio);
    expect(await page.textContent('#cis-supply')).toBe(show(me.supply));
    expect(await page.textContent('#cis-demand')).toBe(show(me.demand));
    expect(await page.textContent('#cis-frozen')).toBe('no');
    // the seller's own download, from its data folder
    const notes = page.locator(`#downloads tr[data-file-id="${buyer.fileId}"]`);
    await expect.poll(() => notes.getAttribute('data-state')).toBe('done');
    expect(await notes.locator('.spent').textContent()).toBe(show(10n));
    await page.screenshot({ path: join(OUT, 'seller.png'), fullPage: true });

    const buyerPage = await browser.newPage();
    await buyerPage.goto(`${buyer.p.url}/netpay/peer`);
    const download = buyerPage.locator(`#downloads tr[data-file-id="${seller.fileId}"]`);
    await expect.poll(() => download.getAttribute('data-state')).toBe('done');
    expect(await download.locator('.name').textContent()).toBe('song.ogg');
    expect(await download.textContent()).toContain('100%');
    expect(await download.locator('.spent').textContent()).toBe(show(60n));
    expect(await buyerPage.locator('#problem').isHidden()).toBe(true);
    await buyerPage.screenshot({ path: join(OUT, 'buyer.png'), fullPage: true });

    // The running peer serves its view to this machine only.
    const remote = await seller.p.app.inject({ url: '/netpay/peer.json', remoteAddress: '10.0.0.7' });
    expect(remote.statusCode).toBe(403);
    await w.audit();
  });
});
