import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeHeader, HEADERS } from '@netpay/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Customer, startWorld, type World } from '../../broker/test/world.ts';
import { type RunningVendor, startVendor } from '../../gate/test/vendor-world.ts';
import { createPayFetch, memoryStorage, openWallet, recoverPayments, type Wallet } from '../src/index.ts';
import { fileStorage } from '../src/node.ts';

/** The wallet against the real broker, bank and vendors over loopback HTTP. */
describe('wallet [pglite]', () => {
  let w: World;
  let shopA: RunningVendor;
  let shopB: RunningVendor;
  let friend: Customer;
  const dir = mkdtempSync(join(tmpdir(), 'netpay-wallet-test-'));
  const password = 'correct horse battery';

  beforeAll(async () => {
    w = await startWorld('pglite');
    shopA = await startVendor(w, 'pglite', 23n);
    shopB = await startVendor(w, 'pglite', 23n);
    friend = await w.newCustomer('friend');
  });
  afterAll(async () => {
    await shopA?.close();
    await shopB?.close();
    await w?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A new customer's wallet: registered, device verified, money loaded, coins of 10 and 1 bought. */
  async function newWallet(storage = memoryStorage()) {
    const wallet = await openWallet({ storage, brokerUrl: w.url });
    const login = `wallet-${Math.random().toString(36).slice(2, 8)}@example.com`;
    await wallet.register({ login, password });
    await wallet.verify(await w.latestCode(login));
    const bank = await w.bankClient.createAccount({ name: login, initialBalance: 1_000_000n });
    await wallet.load(100_000n, { account: bank.id, token: bank.token });
    await wallet.buy([
      { coinValue: 10n, n: 50 },
      { coinValue: 1n, n: 50 },
    ]);
    return { wallet, login, bank };
  }
  const itemUrl = (v: RunningVendor) => `${v.url}/item`;

  it('registers, loads, buys coins by denomination and shows the balance', async () => {
    const { wallet } = await newWallet();
    const b = await wallet.balance();
    expect(b.coins).toBe(550n);
    expect(b.atBroker).toBe(100_000n - 550n);
    expect(b.denominations.map((d) => [d.coinValue, d.coins])).toEqual([
      [10n, 50],
      [1n, 50],
    ]);
  });

  it('pays two vendors with the fewest coins, one round trip once the terms are known', async () => {
    const { wallet } = await newWallet();
    const pay = createPayFetch(wallet);
    const first = await pay(itemUrl(shopA));
    expect(first.status).toBe(200);
    expect(first.netpay).toMatchObject({ paid: 23n, vendorId: shopA.id });
    // 23 = 2 × 10 + 3 × 1: two parts.
    expect(wallet.history()[0]).toMatchObject({
      status: 'accepted',
      amount: '23',
      parts: [{ coins: 2 }, { coins: 3 }],
    });
    // The vendor's revenue counts it as one payment of 23, though it spans two chains.
    expect(await shopA.store.revenue(0)).toEqual([expect.objectContaining({ amount: '23', payments: 1 })]);
    const second = await pay(itemUrl(shopA));
    expect(second.status).toBe(200);
    // At B the chains are handed over from A without the customer noticing.
    const atB = await pay(itemUrl(shopB));
    expect(atB.status).toBe(200);
    expect((await pay(itemUrl(shopA))).status).toBe(200);
    expect((await wallet.balance()).coins).toBe(550n - 4n * 23n);
    expect(wallet.history().map((h) => h.status)).toEqual(['accepted', 'accepted', 'accepted', 'accepted']);
  });

  it('asks for signed receipts and checks them with the key the broker has for the vendor', async () => {
    const { wallet } = await newWallet();
    const plain = await createPayFetch(wallet)(itemUrl(shopA));
    expect(plain.netpay?.signature).toBeUndefined();
    expect((plain.netpay!.receipt as { sig?: string }).sig).toBeUndefined();
    const signed = await createPayFetch(wallet, { signedReceipts: true })(itemUrl(shopA));
    expect(signed.status).toBe(200);
    expect(signed.netpay).toMatchObject({ paid: 23n, signature: 'valid' });
    expect((signed.netpay!.receipt as { sig?: string }).sig).toMatch(/^[A-Za-z0-9_-]{86}$/);
    // A receipt whose signature does not check (here: changed on the way) is reported; the coins are spent.
    const tampering: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      const header = res.headers.get(HEADERS.receipt);
      if (!header) return res;
      const receipt = JSON.parse(Buffer.from(header, 'base64url').toString('utf8'));
      const headers = new Headers(res.headers);
      headers.set(HEADERS.receipt, encodeHeader({ ...receipt, amount: '1' }));
      return new Response(await res.arrayBuffer(), { status: res.status, headers });
    };
    const forged = await createPayFetch(wallet, { signedReceipts: true, fetch: tampering })(itemUrl(shopB));
    expect(forged.netpay).toMatchObject({ paid: 23n, signature: 'invalid' });
  });

  it('says which shop cannot be reached, and pays nothing', async () => {
    const { wallet } = await newWallet();
    const before = await wallet.balance({ broker: false });
    await expect(createPayFetch(wallet)('http://127.0.0.1:9/item')).rejects.toMatchObject({
      code: 'vendor_unreachable',
      message: expect.stringContaining('cannot reach http://127.0.0.1:9'),
    });
    expect(wallet.history()).toEqual([]);
    expect((await wallet.balance({ broker: false })).coins).toBe(before.coins);
  });

  it('keeps to the spend policy and refuses to pay more than allowed', async () => {
    const { wallet } = await newWallet();
    const capped = createPayFetch(wallet, { policy: { maxPerRequest: 20n } });
    await expect(capped(itemUrl(shopA))).rejects.toMatchObject({ code: 'over_max_price' });
    const daily = createPayFetch(wallet, { policy: { maxPerVendorPerDay: 50n } });
    expect((await daily(itemUrl(shopA))).status).toBe(200);
    expect((await daily(itemUrl(shopA))).status).toBe(200);
    await expect(daily(itemUrl(shopA))).rejects.toMatchObject({ code: 'over_vendor_daily_limit' });
    const asked = createPayFetch(wallet, { policy: { ask: () => false } });
    await expect(asked(itemUrl(shopB))).rejects.toMatchObject({ code: 'declined' });
    expect((await wallet.balance()).coins).toBe(550n - 46n);
  });

  it('gives the coins of a refused payment back, so the next payment is exact', async () => {
    const { wallet } = await newWallet();
    // A payment of the wrong amount (the vendor wants 23): refused, nothing recorded.
    const wrong = await wallet.pay({
      amount: 20n,
      vendorId: shopA.id,
      resource: 'GET /item',
      url: itemUrl(shopA),
    });
    const r = await fetch(itemUrl(shopA), { headers: { 'NetPay-Payment': wrong.header } });
    expect(r.status).toBe(402);
    await wallet.settle(wrong.id, { accepted: false, code: 'insufficient_payment' });
    expect((await wallet.balance()).coins).toBe(550n);
    const ok = await createPayFetch(wallet)(itemUrl(shopA));
    expect(ok.status).toBe(200);
  });

  it('refunds unspent coins to the broker balance, sends money, and unloads to the bank', async () => {
    const { wallet, bank } = await newWallet();
    expect((await createPayFetch(wallet)(itemUrl(shopA))).status).toBe(200);
    const before = (await wallet.balance()).atBroker!;
    const refund = await wallet.refund();
    expect(refund.chains).toHaveLength(2);
    // Everything the vendor has not been handed a backup for goes back: at least the unspent 527.
    expect(refund.amount).toBeGreaterThanOrEqual(527n);
    expect((await wallet.balance()).atBroker).toBe(before + refund.amount);
    expect((await wallet.balance()).coins).toBe(0n);
    const sent = await wallet.send(friend.login, 1_000n);
    expect(sent.amount).toBe(1_000n);
    const out = await wallet.unload(5_000n, bank.id);
    expect(out.amount).toBe(5_000n);
    await w.audit();
  });

  it('pays from the server-side wallet instead of coins, signing in at the vendor through the broker', async () => {
    const { wallet } = await newWallet();
    const before = (await wallet.balance()).atBroker!;
    const pay = createPayFetch(wallet, { serverWallet: true, serverWalletCap: 100n });
    const first = await pay(itemUrl(shopB));
    expect(first.status, await first.clone().text()).toBe(200);
    expect(first.netpay).toMatchObject({ paid: 23n, serverWallet: true });
    expect((await pay(itemUrl(shopB))).status).toBe(200);
    // Four charges of 23 fit the cap of 100 per day at this vendor; the fifth would pass it.
    expect((await pay(itemUrl(shopB))).status).toBe(200);
    expect((await pay(itemUrl(shopB))).status).toBe(200);
    const over = await pay(itemUrl(shopB));
    expect(over.status).toBe(402);
    expect((await over.json()).code).toBe('spending_limit');
    // Paid from the broker balance; the coins are untouched.
    expect((await wallet.balance()).atBroker).toBe(before - 4n * 23n);
    expect((await wallet.balance()).coins).toBe(550n);
    await w.audit();
  });

  it('never reuses a payword after a crash between writing a payment down and sending it', async () => {
    const folder = join(dir, 'crash');
    const acceptedBefore = BigInt((await shopA.store.statement()).accepted);
    const { wallet } = await newWallet(fileStorage(folder));
    expect((await createPayFetch(wallet)(itemUrl(shopA))).status).toBe(200);
    // Written down, then the process "dies" before sending it.
    const lost = await wallet.pay({
      amount: 23n,
      vendorId: shopA.id,
      resource: 'GET /item',
      url: itemUrl(shopA),
    });
    const reopened: Wallet = await openWallet({ storage: fileStorage(folder) });
    expect(reopened.unsettled()).toHaveLength(1);
    // Its chains are not used for new payments until it is settled…
    const spentBefore = reopened.chains().map((c) => c.spent);
    expect(spentBefore).toEqual(wallet.chains().map((c) => c.spent));
    // …which recovery does: the vendor never saw it, so it takes it now (one charge, no reuse).
    expect(await recoverPayments(reopened)).toMatchObject({ resent: 1, accepted: 1 });
    expect((await createPayFetch(reopened)(itemUrl(shopA))).status).toBe(200);
    const parts = reopened.history().flatMap((h) => h.parts.map((p) => `${p.chainId}:${p.index}`));
    expect(new Set(parts).size).toBe(parts.length);
    // The vendor accepted exactly the coins the wallet spent: 3 payments of 23.
    expect(BigInt((await shopA.store.statement()).accepted) - acceptedBefore).toBe(69n);
    expect((await reopened.balance()).coins).toBe(550n - 69n);
    expect(lost.parts.length).toBeGreaterThan(0);
    // The file is the owner's only.
    expect(statSync(join(folder, 'wallet.json')).mode & 0o777).toBe(0o600);
  });

  it('encrypts the wallet file with a passphrase and refuses a wrong one', async () => {
    const folder = join(dir, 'sealed');
    const storage = fileStorage(folder, { passphrase: 'a long passphrase' });
    const { wallet } = await newWallet(storage);
    const text = readFileSync(join(folder, 'wallet.json'), 'utf8');
    expect(text).not.toContain(wallet.chains()[0]!.chainId);
    await expect(openWallet({ storage: fileStorage(folder, { passphrase: 'wrong' }) })).rejects.toMatchObject(
      { name: 'NetPayError', code: 'wallet_storage' },
    );
    const again = await openWallet({ storage: fileStorage(folder, { passphrase: 'a long passphrase' }) });
    expect((await again.balance({ broker: false })).coins).toBe(550n);
  });
});
