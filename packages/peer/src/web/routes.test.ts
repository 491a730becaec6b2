/**
 * The peer's web view at the route level (routes.ts, view.ts), with a fake folder, store and CIS: served to
 * this machine only (403 `forbidden` from another address or for another host name), amounts in minor
 * units and formatted with the CIS's currency, the CIS asked at most once a second and shown as null when
 * it does not answer, downloads read from the data folder.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { currency, sha256, toBase64url } from '@netpay/protocol';
import { createServiceApp } from '@netpay/service';
import { afterEach, describe, expect, it } from 'vitest';
import type { SharedFile } from '../files/shared-folder.ts';
import { createProgressFile } from '../get/progress-file.ts';
import { peerViewRoutes } from './routes.ts';
import { createPeerView, PeerViewSchema } from './view.ts';

const FILE_ID = toBase64url(sha256(new TextEncoder().encode('song')));
const file = {
  manifest: { fileId: FILE_ID, name: 'song <b>.ogg', size: 300_000, chunkSize: 262_144, leaves: ['a', 'b'] },
  path: 'song <b>.ogg',
  price: 10n,
} as unknown as SharedFile;

const STATUS = {
  peerId: 'peer-x',
  balance: '999940',
  earnings: '60',
  supply: '60',
  demand: '200',
  ratio: '0.30',
  allowance: '100120',
  remaining: '99920',
  frozen: false,
};

const apps: { close(): Promise<unknown> }[] = [];
afterEach(async () => {
  for (const a of apps.splice(0)) await a.close();
});

function start(o: { cisDown?: boolean } = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'netpay-peer-view-'));
  let cisCalls = 0;
  const view = createPeerView({
    peerId: 'peer-x',
    url: () => 'http://127.0.0.1:1234',
    dataDir,
    folder: { list: () => [file] },
    store: {
      statement: async () => ({
        accepted: '60',
        redeemed: '60',
        awaitingRedemption: '0',
        missing: '0',
        chains: 1,
      }),
    },
    cis: {
      peerStatus: (async () => {
        cisCalls++;
        if (o.cisDown) throw new Error('cannot reach the CIS: ECONNREFUSED');
        return STATUS;
      }) as never,
    },
    currency: currency('USD', 4),
  });
  const { app } = createServiceApp({ title: 'peer', description: 'test', logger: false });
  peerViewRoutes(app, view);
  apps.push(app);
  return { app, dataDir, cisCalls: () => cisCalls };
}

describe("the peer's web view", () => {
  it('shows files, sales, the CIS figures and downloads, amounts formatted with the currency', async () => {
    const { app, dataDir } = start();
    const p = await createProgressFile({ dataDir, fileId: FILE_ID, name: 'song.ogg', path: '/tmp/song.ogg' });
    p.update({ bytes: 300_000, total: 300_000, chunks: 2, totalChunks: 2, spent: 20n, sellers: 1 });
    await p.finish('done');
    const res = await app.inject({ url: '/netpay/peer.json' });
    expect(res.statusCode).toBe(200);
    const v = PeerViewSchema.parse(res.json());
    expect(v).toMatchObject({
      peerId: 'peer-x',
      url: 'http://127.0.0.1:1234',
      currency: { code: 'USD', exponent: 4 },
      fileCount: 1,
      files: [
        { fileId: FILE_ID, name: 'song <b>.ogg', chunks: 2, price: { minor: '10', text: '0.0010 USD' } },
      ],
      sales: { accepted: { minor: '60', text: '0.0060 USD' }, redeemed: { text: '0.0060 USD' }, chains: 1 },
      cis: { earnings: { minor: '60', text: '0.0060 USD' }, ratio: '0.30', balance: { text: '99.9940 USD' } },
      cisError: null,
      downloads: [
        { name: 'song.ogg', state: 'done', bytes: 300_000, spent: { minor: '20', text: '0.0020 USD' } },
      ],
    });
  });

  it('serves the page with its script and style, nothing from elsewhere, never framed', async () => {
    const { app } = start();
    const page = await app.inject({ url: '/netpay/peer' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['content-security-policy']).toContain("default-src 'none'");
    expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(page.body).toContain('./peer.js');
    const script = await app.inject({ url: '/netpay/peer.js' });
    expect(script.headers['content-type']).toMatch(/^text\/javascript/);
    expect(script.body).toContain('./peer.json');
    expect((await app.inject({ url: '/netpay/peer.css' })).statusCode).toBe(200);
  });

  it('answers 403 forbidden to another machine, and to a page that names another host', async () => {
    const { app } = start();
    for (const url of ['/netpay/peer', '/netpay/peer.json', '/netpay/peer.js', '/netpay/peer.css']) {
      const remote = await app.inject({ url, remoteAddress: '192.168.1.20' });
      expect(remote.statusCode, url).toBe(403);
      expect(remote.json()).toEqual({ code: 'forbidden', message: 'served to this machine only' });
      // DNS rebinding: a site whose name now points at 127.0.0.1
      const rebound = await app.inject({ url, headers: { host: 'evil.example:8080' } });
      expect(rebound.statusCode, url).toBe(403);
    }
    for (const host of ['127.0.0.1:4410', 'localhost:4410', '[::1]:4410']) {
      expect((await app.inject({ url: '/netpay/peer.json', headers: { host } })).statusCode).toBe(200);
    }
    expect(
      (await app.inject({ url: '/netpay/peer.json', remoteAddress: '::1', headers: { host: '[::1]:1' } }))
        .statusCode,
    ).toBe(200);
  });

  it('shows the CIS as null, saying why, when it does not answer; asks it at most once a second', async () => {
    const down = start({ cisDown: true });
    const v = PeerViewSchema.parse((await down.app.inject({ url: '/netpay/peer.json' })).json());
    expect(v.cis).toBeNull();
    expect(v.cisError).toContain('ECONNREFUSED');
    expect(v.sales.accepted.text).toBe('0.0060 USD'); // the peer's own figures still show
    const up = start();
    for (let i = 0; i < 5; i++) await up.app.inject({ url: '/netpay/peer.json' });
    expect(up.cisCalls()).toBe(1);
    await new Promise((r) => setTimeout(r, 1_100));
    await up.app.inject({ url: '/netpay/peer.json' });
    expect(up.cisCalls()).toBe(2);
  });
});
