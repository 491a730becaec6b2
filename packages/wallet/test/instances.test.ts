import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorld, type World } from '../../broker/test/world.ts';
import { type RunningVendor, startVendor } from '../../gate/test/vendor-world.ts';
import { createPayFetch, memoryStorage, openWallet, type WalletStorage } from '../src/index.ts';
import { fundedWallet } from './fixtures.ts';

/**
 * Several wallet instances over one storage (the web wallet's tab and a vendor page's wallet frame over one
 * IndexedDB record), and the server-side wallet's caps, against the real broker, bank and vendor.
 */
describe('wallet instances and server-side wallet caps [pglite]', () => {
  let w: World;
  let shop: RunningVendor;

  beforeAll(async () => {
    w = await startWorld('pglite');
    shop = await startVendor(w, 'pglite', 23n);
  });
  afterAll(async () => {
    await shop?.close();
    await w?.close();
  });

  /** A new customer's wallet over `storage`: registered, device verified, money loaded. */
  const signedIn = (storage: WalletStorage) => fundedWallet(w, 'tabs', 100_000n, [], storage);
  const item = () => `${shop.url}/item`;
  const accepted = async () => BigInt((await shop.store.statement()).accepted);

  it('two instances over one storage take turns: no payword is handed out twice, each sees the other’s payments', async () => {
    const storage = memoryStorage();
    const a = await signedIn(storage);
    await a.buy([{ coinValue: 1n, n: 200 }]);
    // The second tab opens the wallet as it is now: one chain, nothing spent.
    const b = await openWallet({ storage });
    const before = await accepted();
    const payA = createPayFetch(a);
    const payB = createPayFetch(b);

    expect((await payA(item())).status).toBe(200);
    expect((await payB(item())).status).toBe(200);
    // B went on from where A stopped: new paywords, paid for (a payword A had sent would have been
    // answered as a retry of A's payment, and charged nothing).
    const [paidByA] = a.history();
    const paidByB = b.history().at(-1);
    expect(paidByB?.parts).toEqual([{ chainId: paidByA?.parts[0]?.chainId, index: 46, coins: 23 }]);
    expect((await accepted()) - before).toBe(2n * 23n);
    // A shows what is in its memory until it reads the storage again.
    expect(a.history()).toHaveLength(1);
    await a.refresh();
    expect(a.history().map((h) => h.status)).toEqual(['accepted', 'accepted']);
    expect((await a.balance({ broker: false })).coins).toBe(200n - 2n * 23n);
    expect((await payA(item())).status).toBe(200);
    // At the same time too, each on its own chain (a chain with a payment in flight is not used): the
    // chain A buys now is known to B at its next change.
    await a.buy([{ coinValue: 1n, n: 200 }]);
    const both = await Promise.all([payA(item()), payB(item())]);
    expect(both.map((r) => r.status)).toEqual([200, 200]);

    await b.refresh();
    const spent = b.history().flatMap((h) => h.parts.map((p) => `${p.chainId}:${p.index}`));
    expect(spent).toHaveLength(5);
    expect(new Set(spent).size).toBe(5);
    expect(b.history().every((h) => h.status === 'accepted')).toBe(true);
    expect(b.chains().reduce((sum, c) => sum + c.spent, 0)).toBe(5 * 23);
    // The vendor took exactly the coins the wallet spent: five payments of 23.
    expect((await accepted()) - before).toBe(5n * 23n);
    await a.refresh();
    expect(a.history()).toEqual(b.history());
    expect((await a.balance({ broker: false })).coins).toBe(400n - 5n * 23n);
  });

  it('keeps a daily limit across instances paying at once, and gives a refused payment back to it', async () => {
    const storage = memoryStorage();
    const a = await signedIn(storage);
    await a.buy([
      { coinValue: 1n, n: 100 },
      { coinValue: 1n, n: 100 },
    ]);
    const b = await openWallet({ storage });
    // Room for one payment of 23 today at this shop: two tabs try at the same moment.
    const policy = { maxPerVendorPerDay: (vendorId: string) => (vendorId === shop.id ? 40n : undefined) };
    const results = await Promise.allSettled([
      createPayFetch(a, { policy })(item()),
      createPayFetch(b, { policy })(item()),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled' && r.value.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected')).toEqual([
      expect.objectContaining({ reason: expect.objectContaining({ code: 'over_vendor_daily_limit' }) }),
    ]);
    await a.refresh();
    expect(a.spentToday(shop.id)).toBe(23n);
    // A payment the vendor refuses counts for nothing: a price the vendor does not ask (22, not 23).
    const p = await a.pay({ amount: 22n, vendorId: shop.id, resource: 'GET /item', url: item() });
    expect(a.spentToday(shop.id)).toBe(45n);
    const res = await fetch(item(), { headers: { 'NetPay-Payment': p.header } });
    expect(res.status).toBe(402);
    await a.settle(p.id, { accepted: false, code: 'insufficient_payment' });
    expect(a.spentToday(shop.id)).toBe(23n);
  });

  it('writes down the currency as a change (no save outside the lock), seen by the other instance', async () => {
    const storage = memoryStorage();
    const a = await openWallet({ storage, brokerUrl: w.url });
    const b = await openWallet({ storage });
    // Both ask at once; neither call is made inside another change, so nothing waits forever.
    const [ca, cb] = await Promise.all([a.currency(), b.currency()]);
    expect(ca).toEqual(cb);
    expect(await a.format(12_345n)).toBe('1.2345');
    // Kept with the wallet: another instance knows it without asking the broker.
    const offline = async () => {
      throw new Error('offline');
    };
    const again = await openWallet({ storage, fetch: offline });
    expect((await again.currency()).code).toBe('USD');
  });

  it('sets, lists and withdraws server-side wallet caps at the broker', async () => {
    const wallet = await signedIn(memoryStorage());
    expect(await wallet.grants()).toEqual([]);

    const set = await wallet.setGrantCap(shop.id, 5_000n, 'total');
    expect(set).toEqual({
      grantId: expect.any(String),
      vendorId: shop.id,
      vendorName: shop.id,
      active: false,
      cap: 5_000n,
      period: 'total',
      spent: 0n,
      remaining: 5_000n,
    });
    expect(await wallet.grants()).toEqual([set]);
    // Without a period the grant keeps its own.
    expect(await wallet.setGrantCap(shop.id, 100n)).toMatchObject({ cap: 100n, period: 'total' });

    // Signed in at the vendor through the broker and charged there: spent and remaining move.
    const pay = createPayFetch(wallet, { serverWallet: true });
    expect((await pay(item())).status).toBe(200);
    const [charged] = await wallet.grants();
    expect(charged).toMatchObject({ active: true, cap: 100n, spent: 23n, remaining: 77n });

    await wallet.withdrawGrant(shop.id);
    // The broker keeps a withdrawn grant in the list (with what it spent), no longer active.
    expect(await wallet.grants()).toEqual([{ ...charged, active: false }]);
    const refused = await fetch(item(), {
      headers: { cookie: wallet.serverGrant(new URL(shop.url).origin)! },
    });
    expect(refused.status).toBe(402);

    await expect(wallet.setGrantCap('no-such-vendor', 100n)).rejects.toMatchObject({
      name: 'NetPayError',
      code: 'unknown_party',
      status: 404,
    });
    await expect(wallet.withdrawGrant('no-such-vendor')).rejects.toMatchObject({
      code: 'not_found',
      status: 404,
    });
    await expect(wallet.setGrantCap('not a party id', 100n)).rejects.toMatchObject({
      code: 'bad_request',
      status: 400,
    });
    await expect(wallet.setGrantCap(shop.id, 5_000_001n)).rejects.toMatchObject({
      code: 'limit_exceeded',
      status: 422,
    });
    await expect(wallet.setGrantCap(shop.id, -1n)).rejects.toMatchObject({ code: 'bad_amount' });
    await wallet.signOut();
    await expect(wallet.grants()).rejects.toMatchObject({ code: 'not_signed_in' });
  });
});
