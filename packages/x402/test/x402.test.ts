/**
 * NetPay inside the unmodified x402 SDK, end to end on loopback: the real bank and broker (test world), a
 * vendor opened as the standalone one is (openVendor: key, PGlite with its journal, gate, redeemer) behind
 * `@x402/express`'s paymentMiddleware, and a customer's NetPay wallet paying through `@x402/fetch`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  decodeHeader,
  decodeX402Header,
  encodeX402Header,
  type Receipt,
  randomBytes,
  toBase64url,
  X402_HEADERS,
} from '@netpay/protocol';
import type { Wallet } from '@netpay/wallet';
import type { FacilitatorClient } from '@x402/core/server';
import type {
  PaymentPayload,
  PaymentRequirements,
  SchemeNetworkClient,
  SchemeNetworkServer,
} from '@x402/core/types';
import { paymentMiddleware } from '@x402/express';
import { decodePaymentResponseHeader, wrapFetchWithPayment, x402Client } from '@x402/fetch';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorld, type World } from '../../broker/test/world.ts';
import { checkChains } from '../../gate/test/invariants.ts';
import {
  NetpayFacilitator,
  type NetpayX402,
  netpayX402,
  preferNetpay,
  registerNetpay,
} from '../src/index.ts';
import { fundedWallet, openShop, registerShop } from './fixtures.ts';

/** A second x402 scheme, on its own network, to offer beside NetPay. */
const FAKE_NETWORK = 'fake:test';
class FakeServerScheme implements SchemeNetworkServer {
  readonly scheme = 'fake';
  readonly defaultAssetTransferMethod = 'default';
  readonly paymentFlows = {
    default: { supported: ['authorization' as const], default: 'authorization' as const },
  };
  async parsePrice(price: unknown) {
    return { asset: 'FAKE', amount: String(price), extra: {} };
  }
  async enhancePaymentRequirements(r: PaymentRequirements) {
    return r;
  }
}
class FakeClientScheme implements SchemeNetworkClient {
  readonly scheme = 'fake';
  findDefaultAsset(asset: string) {
    return asset === 'FAKE' ? { asset, decimals: 0, symbol: 'FAKE' } : undefined;
  }
  async createPaymentPayload(x402Version: number) {
    return { x402Version, payload: { fake: true } };
  }
}
const fakeCalls: string[] = [];
const fakeFacilitator: FacilitatorClient = {
  verify: async (p: PaymentPayload) => {
    fakeCalls.push('verify');
    return p.payload.fake === true ? { isValid: true } : { isValid: false, invalidReason: 'fake' };
  },
  settle: async (_p: PaymentPayload, r: PaymentRequirements) => {
    fakeCalls.push('settle');
    return { success: true, transaction: 'fake-tx', network: r.network };
  },
  getSupported: async () => ({
    kinds: [{ x402Version: 2, scheme: 'fake', network: FAKE_NETWORK }],
    extensions: [],
    signers: {},
  }),
};

/** A fetch that keeps every request it sends (to read the PAYMENT-SIGNATURE x402 sent). */
function recordingFetch() {
  const sent: Request[] = [];
  const f: typeof fetch = async (input, init) => {
    const req = new Request(input, init);
    sent.push(req.clone());
    return fetch(req);
  };
  return { fetch: f, sent };
}

describe('NetPay as an x402 scheme [pglite]', () => {
  let w: World;
  let vendor: Awaited<ReturnType<typeof openShop>>;
  let netpay: NetpayX402;
  let url = '';
  let close: () => Promise<void>;
  let wallet: Wallet;
  let served = 0;
  /** Coins of each chain receipted in a 200 answer: what the vendor must be credited. */
  const receipted = new Map<string, number>();
  const dir = mkdtempSync(join(tmpdir(), 'netpay-x402-test-'));
  const vendorId = `x402-shop-${toBase64url(randomBytes(4))}`;

  beforeAll(async () => {
    w = await startWorld('pglite');
    vendor = await openShop(w, vendorId, join(dir, 'vendor'));
    netpay = await netpayX402({ vendor, facilitators: [fakeFacilitator] });
    netpay.server.register(FAKE_NETWORK, new FakeServerScheme());
    const app = express();
    app.use(
      paymentMiddleware(
        {
          'GET /article': { accepts: [netpay.accepts(25n)], description: 'an article' },
          'GET /slow': { accepts: [netpay.accepts('10')] },
          'GET /broken': { accepts: [netpay.accepts('10')] },
          'GET /both': {
            accepts: [
              { scheme: 'fake', network: FAKE_NETWORK, price: '1', payTo: 'fake-shop' },
              netpay.accepts('10'),
            ],
          },
        },
        netpay.server,
      ),
    );
    app.get('/article', (_req, res) => {
      served++;
      res.json({ text: 'the article' });
    });
    app.get('/slow', async (_req, res) => {
      served++;
      await new Promise((r) => setTimeout(r, 300));
      res.json({ text: 'slow' });
    });
    app.get('/broken', (_req, res) => {
      served++;
      res.status(500).json({ oops: 1 });
    });
    app.get('/both', (_req, res) => {
      served++;
      res.json({ text: 'either' });
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = () => new Promise((r) => server.close(() => r()));
    await registerShop(w, vendorId, vendor.signer, url);

    wallet = await fundedWallet(w, 'x402', 100_000n, [
      { coinValue: 5n, n: 40 },
      { coinValue: 1n, n: 40 },
    ]);
  });

  afterAll(async () => {
    await close?.();
    await vendor?.store.close();
    await vendor?.db.close();
    await w?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The NetPay receipt in a settled answer's PAYMENT-RESPONSE; its coins are counted as receipted. */
  function receiptOf(res: Response): Receipt {
    const settled = decodeX402Header('payment-response', res.headers.get(X402_HEADERS.response));
    if (!settled.ok) throw new Error(settled.error.message);
    expect(settled.value).toMatchObject({ success: true, network: netpay.network });
    const receipt = decodeHeader('receipt', settled.value.transaction);
    if (!receipt.ok) throw new Error(receipt.error.message);
    for (const p of receipt.value.parts) receipted.set(p.chainId, (receipted.get(p.chainId) ?? 0) + p.coins);
    return receipt.value;
  }

  const netpayClient = async () => registerNetpay(new x402Client(), wallet);

  it('pays a route of @x402/express with NetPay coins through @x402/fetch', async () => {
    const { fetch: base, sent } = recordingFetch();
    const pay = wrapFetchWithPayment(base, await netpayClient());
    const res = await pay(`${url}/article`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ text: 'the article' });
    // The SDK's own decoder reads the settlement too.
    expect(decodePaymentResponseHeader(res.headers.get(X402_HEADERS.response)!)).toMatchObject({
      success: true,
      amount: '25',
    });
    const receipt = receiptOf(res);
    expect(receipt).toMatchObject({ vendorId, amount: '25', currency: 'USD', exponent: 4 });
    // What x402 sent: the NetPay requirement it accepted, and the payment as its payload.
    const signature = decodeX402Header('payment-signature', sent[1]!.headers.get(X402_HEADERS.signature));
    expect(signature.ok && signature.value.accepted).toMatchObject({
      scheme: 'netpay',
      network: netpay.network,
      asset: 'USD',
      amount: '25',
      payTo: vendorId,
      extra: { vendorId, resource: 'GET /article', currency: 'USD', exponent: 4 },
    });
    // The vendor has the coins, the wallet its receipt.
    expect(await vendor.store.revenue(0)).toEqual([expect.objectContaining({ amount: '25', payments: 1 })]);
    for (const p of receipt.parts) expect(vendor.store.peek(p.chainId)?.acceptedIndex).toBe(p.index);
    expect(wallet.history().at(-1)).toMatchObject({ status: 'accepted', amount: '25', receipt });
    expect(netpay.facilitator.holding).toBe(0);

    // (2) The same PAYMENT-SIGNATURE again: the coins are spent, the retry is refused and serves nothing.
    const before = served;
    const replay = await fetch(`${url}/article`, {
      headers: { [X402_HEADERS.signature]: sent[1]!.headers.get(X402_HEADERS.signature)! },
    });
    expect(replay.status).toBe(402);
    expect(decodeX402Header('payment-required', replay.headers.get(X402_HEADERS.required))).toMatchObject({
      ok: true,
      value: { error: 'payment_conflict' },
    });
    expect(served).toBe(before);
    expect(await vendor.store.revenue(0)).toEqual([expect.objectContaining({ amount: '25', payments: 1 })]);
  });

  it('keeps to the spend limits: a NetPay price over the cap is not paid', async () => {
    const coins = (await wallet.balance({ broker: false })).coins;
    const capped = await registerNetpay(new x402Client(), wallet, { maxAmountPerPayment: 20n });
    await expect(wrapFetchWithPayment(fetch, capped)(`${url}/article`)).rejects.toThrow(
      /filtered out by policies/,
    );
    // x402's own cap ("$1" for the wallet's currency, USD: 10,000 minor units), lowered to $0.002.
    const lowered = (await netpayClient()).setSpendControls({ maxAmountPerPayment: '$0.002' });
    await expect(wrapFetchWithPayment(fetch, lowered)(`${url}/article`)).rejects.toThrow(
      /maxAmountPerPayment/,
    );
    expect((await wallet.balance({ broker: false })).coins).toBe(coins);
    expect(wallet.unsettled()).toEqual([]);
  });

  it('serves one of two concurrent requests carrying the same payment', async () => {
    const client = await netpayClient();
    const first = await fetch(`${url}/slow`);
    expect(first.status).toBe(402);
    const required = decodeX402Header('payment-required', first.headers.get(X402_HEADERS.required));
    if (!required.ok) throw new Error(required.error.message);
    const payload = await client.createPaymentPayload(required.value as never);
    const headers = { [X402_HEADERS.signature]: encodeX402Header(payload) };
    const before = served;
    const answers = await Promise.all([fetch(`${url}/slow`, { headers }), fetch(`${url}/slow`, { headers })]);
    expect(answers.map((r) => r.status).sort()).toEqual([200, 402]);
    const refused = answers.find((r) => r.status === 402)!;
    expect(decodeX402Header('payment-required', refused.headers.get(X402_HEADERS.required))).toMatchObject({
      ok: true,
      value: { error: 'payment_conflict' },
    });
    expect(served).toBe(before + 1);
    const paid = answers.find((r) => r.status === 200)!;
    const receipt = receiptOf(paid);
    expect(receipt.amount).toBe('10');
    // Sent outside @x402/fetch: the wallet is told the answer as x402 would have.
    const [unsettled] = wallet.unsettled();
    await wallet.settle(unsettled!.id, { accepted: true, receipt });
    expect(netpay.facilitator.holding).toBe(0);
  });

  it('offers NetPay beside another scheme: a client preferring NetPay pays with it', async () => {
    const { fetch: base, sent } = recordingFetch();
    const client = (await netpayClient())
      .register(FAKE_NETWORK, new FakeClientScheme())
      .registerPolicy(preferNetpay);
    const res = await wrapFetchWithPayment(base, client)(`${url}/both`);
    expect(res.status).toBe(200);
    expect(receiptOf(res).amount).toBe('10');
    const signature = decodeX402Header('payment-signature', sent[1]!.headers.get(X402_HEADERS.signature));
    expect(signature.ok && signature.value.accepted.scheme).toBe('netpay');
    expect(fakeCalls).toEqual([]);
    // The other scheme works on the same route (x402 picks the first entry without the preference).
    const other = new x402Client().register(FAKE_NETWORK, new FakeClientScheme());
    const viaFake = await wrapFetchWithPayment(fetch, other)(`${url}/both`);
    expect(viaFake.status).toBe(200);
    expect(fakeCalls).toEqual(['verify', 'settle']);
  });

  it('charges nothing when the handler fails, and the same coins pay again', async () => {
    const pay = wrapFetchWithPayment(fetch, await netpayClient());
    const revenue = await vendor.store.revenue(0);
    const failed = await pay(`${url}/broken`);
    expect(failed.status).toBe(500);
    expect(failed.headers.get(X402_HEADERS.response)).toBeNull();
    expect(netpay.facilitator.holding).toBe(0);
    expect(await vendor.store.revenue(0)).toEqual(revenue);
    const refused = wallet.history().at(-1)!;
    expect(refused).toMatchObject({ status: 'refused', amount: '10' });
    // The wallet got its coins back: the next payment spends the very same paywords, and they are taken.
    const res = await pay(`${url}/slow`);
    expect(res.status).toBe(200);
    receiptOf(res);
    expect(wallet.history().at(-1)).toMatchObject({ status: 'accepted', parts: refused.parts });
  });

  it('releases a verified payment that is never settled after holdMs', async () => {
    const facilitator = new NetpayFacilitator(vendor.gate, { holdMs: 200 });
    const client = await netpayClient();
    const first = await fetch(`${url}/slow`);
    const required = decodeX402Header('payment-required', first.headers.get(X402_HEADERS.required));
    if (!required.ok) throw new Error(required.error.message);
    const payload = await client.createPaymentPayload(required.value as never);
    const requirements = payload.accepted;
    expect(await facilitator.verify(payload, requirements)).toEqual({ isValid: true });
    expect(facilitator.holding).toBe(1);
    await new Promise((r) => setTimeout(r, 400));
    expect(facilitator.holding).toBe(0);
    expect(await facilitator.settle(payload, requirements)).toMatchObject({
      success: false,
      errorReason: 'payment_not_verified',
    });
    // Released, not spent: the same payment verifies and settles now.
    expect(await facilitator.verify(payload, requirements)).toEqual({ isValid: true });
    const settled = await facilitator.settle(payload, requirements);
    expect(settled).toMatchObject({ success: true, amount: '10' });
    const receipt = decodeHeader('receipt', settled.transaction);
    if (!receipt.ok) throw new Error(receipt.error.message);
    for (const p of receipt.value.parts) receipted.set(p.chainId, (receipted.get(p.chainId) ?? 0) + p.coins);
    const [unsettled] = wallet.unsettled();
    await wallet.settle(unsettled!.id, { accepted: true, receipt: receipt.value });
  });

  it('keeps the money invariants: the vendor is credited exactly the coins of its 200 answers', async () => {
    await vendor.redeemer.redeem();
    const [row] = await vendor.db.query<{ credited: bigint; refused: bigint }>(
      `SELECT COALESCE(sum(to_index - from_index) FILTER (WHERE status = 'credited'), 0)::int8 AS credited,
              count(*) FILTER (WHERE status = 'refused')::int8 AS refused FROM vendor_claims`,
    );
    const coins = [...receipted.values()].reduce((a, b) => a + b, 0);
    expect(coins).toBeGreaterThan(0);
    expect(Number(row!.refused)).toBe(0);
    expect(Number(row!.credited)).toBe(coins);
    await checkChains(
      w,
      wallet.chains().map((c) => c.chainId),
      [],
    );
  });
});
