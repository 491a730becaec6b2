/**
 * Services start in any order (issue 18 §3): a broker started before its bank listens at once, answers
 * /livez, and /healthz 503 `not_ready` (loads 503 `bank_unavailable`) until the bank, started seconds later,
 * has been reached; then it is ready without a restart. A vendor started before its broker waits for it
 * with back-off, listening meanwhile, and is ready once registered. Real servers on loopback.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBankClient, startBank } from '@netpay/bank';
import { seedPgliteDataDir } from '@netpay/db/testing';
import { startPeer } from '@netpay/peer';
import { currency } from '@netpay/protocol';
import { PriceListSchema, startVendorServer } from '@netpay/vendor/server';
import { afterAll, describe, expect, it } from 'vitest';
import { startBroker } from '../src/server.ts';

const dirs: string[] = [];
const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => {});
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  seedPgliteDataDir(dir);
  return dir;
}

/** A loopback port nothing listens on (yet). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

const get = async (url: string) => {
  const r = await fetch(url);
  return { status: r.status, body: await r.json() };
};

describe('services start in any order', () => {
  it('a broker started before its bank serves /livez, is not ready, then ready once the bank listens', async () => {
    const bankPort = await freePort();
    const bankUrl = `http://127.0.0.1:${bankPort}`;
    const warnings: string[] = [];
    const broker = await startBroker({
      port: 0,
      dataDir: tempDir('netpay-broker-'),
      bankUrl,
      config: { dev: true, argon2: { t: 1, m: 64, p: 1 } },
      logger: {
        level: 'warn',
        // Each wait for the bank is logged.
        hooks: {
          logMethod(args, method) {
            const msg = args.find((a) => typeof a === 'string');
            if (msg) warnings.push(msg); // kept here, not printed
            void method;
          },
        },
        enabled: true,
      },
    });
    closers.push(() => broker.close());
    expect(await get(`${broker.url}/livez`)).toEqual({ status: 200, body: { status: 'ok' } });
    const notReady = await get(`${broker.url}/healthz`);
    expect(notReady.status).toBe(503);
    expect(notReady.body).toMatchObject({ code: 'not_ready', message: expect.stringContaining(bankUrl) });

    // Customers are served meanwhile (what needs no bank).
    const reg = await fetch(`${broker.url}/customers`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'register-key-1' },
      body: JSON.stringify({
        login: 'early@example.com',
        password: 'correct horse battery',
        deviceName: 'x',
      }),
    });
    expect(reg.status).toBe(201);

    // The bank comes up a few seconds later, on the port the broker was given.
    await new Promise((r) => setTimeout(r, 2_500));
    const bank = await startBank({
      port: bankPort,
      dev: true,
      dataDir: tempDir('netpay-bank-'),
      currency: currency('USD', 4),
      logger: false,
    });
    closers.push(() => bank.close());
    await expect
      .poll(async () => (await get(`${broker.url}/healthz`)).status, { timeout: 60_000, interval: 250 })
      .toBe(200);
    expect(warnings.some((w) => /the bank at .* is not reachable .* trying again in/.test(w))).toBe(true);
    expect((await createBankClient(bankUrl).info()).currency).toMatchObject({ code: 'USD', exponent: 4 });
  });

  it('a broker whose bank counts in another exponent refuses to start when it reaches it first', async () => {
    const bank = await startBank({
      port: 0,
      dev: true,
      dataDir: tempDir('netpay-bank-'),
      currency: currency('USD', 2),
      logger: false,
    });
    closers.push(() => bank.close());
    await expect(
      startBroker({ port: 0, dataDir: tempDir('netpay-broker-'), bankUrl: bank.url }),
    ).rejects.toThrow(/differs from the bank's USD with 2/);
  });

  it('a vendor started before its broker listens, waits for it, and is ready once registered', async () => {
    const brokerPort = await freePort();
    const folder = mkdtempSync(join(tmpdir(), 'netpay-shop-files-'));
    dirs.push(folder);
    await writeFile(join(folder, 'paper.pdf'), 'a paper');
    const vendorPort = await freePort();
    const starting = startVendorServer({
      port: vendorPort,
      folder,
      prices: PriceListSchema.parse({ vendorId: 'early-shop', prices: { '*.pdf': '50' } }),
      brokerUrl: `http://127.0.0.1:${brokerPort}`,
      dataDir: tempDir('netpay-vendor-'),
      redeemEveryMs: 0,
    });
    let started = false;
    void starting.then(() => {
      started = true;
    });
    // It listens meanwhile (once its database is open): alive, not ready.
    const early = `http://127.0.0.1:${vendorPort}`;
    const livez = () =>
      fetch(`${early}/livez`).then(
        (r) => r.status,
        () => 0,
      );
    await expect.poll(livez, { timeout: 60_000, interval: 250 }).toBe(200);
    await new Promise((r) => setTimeout(r, 2_000));
    expect(started).toBe(false);
    const notReady = await get(`${early}/healthz`);
    expect(notReady).toMatchObject({ status: 503, body: { code: 'not_ready' } });
    expect(notReady.body.message).toContain('not registered at the broker');

    const broker = await startBroker({
      port: brokerPort,
      dataDir: tempDir('netpay-broker-'),
      config: { dev: true, argon2: { t: 1, m: 64, p: 1 } },
    });
    closers.push(() => broker.close());
    const vendor = await starting;
    closers.unshift(() => vendor.close());
    expect(await get(`${vendor.url}/healthz`)).toEqual({ status: 200, body: { status: 'ok' } });
    expect((await get(`${broker.url}/parties/early-shop`)).body).toMatchObject({ id: 'early-shop' });
  });

  it('a peer started before its CIS waits for it and starts once it listens', async () => {
    const cisPort = await freePort();
    const share = mkdtempSync(join(tmpdir(), 'netpay-peer-share-'));
    dirs.push(share);
    const dataDir = mkdtempSync(join(tmpdir(), 'netpay-peer-'));
    dirs.push(dataDir);
    seedPgliteDataDir(join(dataDir, 'db'));
    const starting = startPeer({
      share,
      cisUrl: `http://127.0.0.1:${cisPort}`,
      price: 10n,
      dataDir,
      redeemEveryMs: 0,
    });
    let started = false;
    void starting.then(() => {
      started = true;
    });
    await new Promise((r) => setTimeout(r, 2_500));
    expect(started).toBe(false);
    const cis = await startBroker({
      port: cisPort,
      dataDir: tempDir('netpay-broker-'),
      config: { dev: true, argon2: { t: 1, m: 64, p: 1 } },
    });
    closers.push(() => cis.close());
    const peer = await starting;
    closers.unshift(() => peer.close());
    expect((await get(`${cis.url}/parties/${peer.peerId}`)).body).toMatchObject({
      id: peer.peerId,
      kind: 'peer',
    });
  });
});
