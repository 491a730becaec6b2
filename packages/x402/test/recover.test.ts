/**
 * x402 payments whose answer was lost, settled by `recoverPayments` on loopback: the real bank and broker
 * (test world), a vendor opened as the standalone one is behind `@x402/express`'s paymentMiddleware, and a
 * customer's wallet paying through `@x402/fetch`. The wallet holds one chain, so a payment left in flight
 * keeps it from paying at all until it is settled.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, toBase64url, X402_HEADERS } from '@netpay/protocol';
import { recoverPayments, type Wallet } from '@netpay/wallet';
import { paymentMiddleware } from '@x402/express';
import { wrapFetchWithPayment, x402Client } from '@x402/fetch';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorld, type World } from '../../broker/test/world.ts';
import { netpayX402, registerNetpay } from '../src/index.ts';
import { fundedWallet, openShop, registerShop } from './fixtures.ts';

describe('recovering x402 payments whose answer was lost [pglite]', () => {
  let w: World;
  let vendor: Awaited<ReturnType<typeof openShop>>;
  let wallet: Wallet;
  let server: Server | undefined;
  let proxy: Server | undefined;
  let port = 0;
  let url = '';
  let served = 0;
  const dir = mkdtempSync(join(tmpdir(), 'netpay-x402-recover-'));
  const vendorId = `x402-recover-${toBase64url(randomBytes(4))}`;
  const app = express();

  /** The shop's HTTP server (again on the same port after a stop, as a restarted shop). */
  async function start() {
    server = app.listen(port, '127.0.0.1');
    await new Promise((r) => server!.once('listening', r));
    port = (server.address() as AddressInfo).port;
    url = `http://127.0.0.1:${port}`;
  }
  async function stop() {
    const s = server!;
    server = undefined;
    await new Promise((r) => {
      s.close(r);
      s.closeAllConnections();
    });
  }

  /** The wallet's one chain: its coins spent in the wallet, and accepted by the vendor. */
  function chain() {
    const [c] = wallet.chains();
    return { spent: c!.spent, accepted: vendor.store.peek(c!.chainId)?.acceptedIndex };
  }

  beforeAll(async () => {
    w = await startWorld('pglite');
    vendor = await openShop(w, vendorId, join(dir, 'vendor'));
    const netpay = await netpayX402({ vendor });
    app.use(paymentMiddleware({ 'GET /article': { accepts: [netpay.accepts('10')] } }, netpay.server));
    app.get('/article', (_req, res) => {
      served++;
      res.json({ text: 'the article' });
    });
    await start();
    await registerShop(w, vendorId, vendor.signer, url);

    wallet = await fundedWallet(w, 'x402r', 10_000n, [{ coinValue: 10n, n: 20 }]);
  });

  afterAll(async () => {
    if (proxy) await new Promise((r) => proxy!.close(r));
    if (server) await stop();
    await vendor?.store.close();
    await vendor?.db.close();
    await w?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends a payment again after the shop restarted between the 402 and the paid retry', async () => {
    const client = await registerNetpay(new x402Client(), wallet);
    let calls = 0;
    let signature: string | null = null;
    // The shop stops after its 402: the paid retry cannot connect.
    const base: typeof fetch = async (input, init) => {
      if (++calls === 2) {
        signature = (input as Request).headers.get(X402_HEADERS.signature);
        await stop();
      }
      return fetch(input, init);
    };
    await expect(wrapFetchWithPayment(base, client)(`${url}/article`)).rejects.toThrow();
    const [left] = wallet.unsettled();
    // Written down as it went: the URL and the very PAYMENT-SIGNATURE x402 sent.
    expect(signature).toBeTruthy();
    expect(left).toMatchObject({ url: `${url}/article`, resource: 'GET /article', x402: { signature } });
    // In flight, its chain pays nothing else.
    await expect(wallet.pay({ amount: 10n, vendorId, resource: 'GET /article' })).rejects.toThrow(
      /not available/,
    );

    // Unreachable still: it stays in flight.
    expect(await recoverPayments(wallet)).toMatchObject({ resent: 1, unreachable: 1 });
    expect(wallet.unsettled()).toHaveLength(1);

    await start();
    const before = served;
    expect(await recoverPayments(wallet)).toMatchObject({ resent: 1, accepted: 1, refused: 0, spent: 0 });
    expect(served).toBe(before + 1);
    const settled = wallet.history().find((h) => h.id === left!.id);
    expect(settled).toMatchObject({ status: 'accepted', receipt: { vendorId, amount: '10' } });
    expect(settled?.x402).toBeUndefined();
    expect(wallet.unsettled()).toEqual([]);
    expect(chain()).toEqual({ spent: 1, accepted: 1 });

    // The chain pays again, the next coin.
    const res = await wrapFetchWithPayment(fetch, client)(`${url}/article`);
    expect(res.status).toBe(200);
    expect(wallet.history().at(-1)).toMatchObject({ status: 'accepted', parts: [{ index: 2, coins: 1 }] });
    expect(chain()).toEqual({ spent: 2, accepted: 2 });
  });

  it('never gives back coins the shop took when only its answer was lost', async () => {
    // A proxy that drops the connection of the first paid request once the shop has answered it.
    let drop = true;
    proxy = createServer((req, res) => {
      const paid = req.headers[X402_HEADERS.signature.toLowerCase()] !== undefined;
      const up = request(
        { host: '127.0.0.1', port, path: req.url, method: req.method, headers: req.headers },
        (answer) => {
          if (paid && drop) {
            drop = false;
            answer.resume();
            answer.on('end', () => req.socket.destroy());
            return;
          }
          res.writeHead(answer.statusCode!, answer.headers);
          answer.pipe(res);
        },
      );
      req.pipe(up);
    });
    proxy.listen(0, '127.0.0.1');
    await new Promise((r) => proxy!.once('listening', r));
    const via = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;

    const client = await registerNetpay(new x402Client(), wallet);
    const before = served;
    await expect(wrapFetchWithPayment(fetch, client)(`${via}/article`)).rejects.toThrow();
    // The shop served and committed it; the wallet does not know.
    expect(served).toBe(before + 1);
    expect(chain()).toEqual({ spent: 3, accepted: 3 });
    const [left] = wallet.unsettled();
    expect(left).toMatchObject({ url: `${via}/article` });

    // x402 refuses the same payment again (payment_conflict): the coins stay spent, not given back.
    expect(await recoverPayments(wallet)).toMatchObject({ resent: 1, accepted: 0, refused: 0, spent: 1 });
    expect(served).toBe(before + 1);
    const settled = wallet.history().find((h) => h.id === left!.id);
    expect(settled).toMatchObject({ status: 'accepted', code: 'payment_conflict' });
    expect(chain()).toEqual({ spent: 3, accepted: 3 });

    // No coin spent twice: the next payment from that chain is the next coin, and the shop takes it.
    const res = await wrapFetchWithPayment(fetch, client)(`${url}/article`);
    expect(res.status).toBe(200);
    expect(wallet.history().at(-1)).toMatchObject({ status: 'accepted', parts: [{ index: 4, coins: 1 }] });
    expect(chain()).toEqual({ spent: 4, accepted: 4 });

    // The vendor is credited exactly the coins the wallet spent.
    await vendor.redeemer.redeem();
    const [row] = await vendor.db.query<{ credited: bigint; refused: bigint }>(
      `SELECT COALESCE(sum(to_index - from_index) FILTER (WHERE status = 'credited'), 0)::int8 AS credited,
              count(*) FILTER (WHERE status = 'refused')::int8 AS refused FROM vendor_claims`,
    );
    expect(Number(row!.refused)).toBe(0);
    expect(Number(row!.credited)).toBe(wallet.chains()[0]!.spent);
  });
});
