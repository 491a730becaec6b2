/**
 * Coins a vendor took while the wallet did not learn it (issue 18's review and fault soak): a payment
 * recovered after the vendor's replay window, and a payment the wallet was told failed while a copy of it
 * (a request the network sent twice) had been taken. The vendor answers `payment_conflict`; the coins are
 * spent there, and given back they would be offered again for ever (or spent twice elsewhere).
 */
import { HEADERS } from '@netpay/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorld, type World } from '../../broker/test/world.ts';
import { type RunningVendor, startVendor } from '../../gate/test/vendor-world.ts';
import { createPayFetch, recoverPayments, type Wallet } from '../src/index.ts';
import { fundedWallet } from './fixtures.ts';

describe('coins a vendor took without the wallet knowing stay spent [pglite]', () => {
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

  /** A wallet with one chain of 100 coins of 1, and a payment of 23 the shop took (its answer lost). */
  async function takenWithoutAnswer(path: string) {
    const wallet = await fundedWallet(w, 'taken', 100_000n, [{ coinValue: 1n, n: 100 }]);
    const url = `${shop.url}${path}`;
    const p = await wallet.pay({ amount: 23n, vendorId: shop.id, resource: `GET ${path}`, url });
    const res = await fetch(url, { headers: { [HEADERS.payment]: p.header } });
    expect(res.status).toBe(200);
    return { wallet, payment: p, url };
  }

  const coins = async (wallet: Wallet) => (await wallet.balance({ broker: false })).coins;

  it('a payment recovered after the replay window is marked spent, and the chain pays on', async () => {
    const { wallet, url } = await takenWithoutAnswer('/item?late');
    w.advance(301_000);
    expect(await recoverPayments(wallet)).toMatchObject({ resent: 1, spent: 1, refused: 0 });
    expect(await coins(wallet)).toBe(77n);
    const next = await createPayFetch(wallet)(url);
    expect(next.status).toBe(200);
    expect(await coins(wallet)).toBe(54n);
  });

  it('coins given back after a refusal but taken by a copy are marked spent at the next payment', async () => {
    const { wallet, payment, url } = await takenWithoutAnswer('/item?first');
    // The wallet was told the payment failed (the copy's answer), so it gave the coins back.
    await wallet.settle(payment.id, { accepted: false, code: 'broker_unavailable' });
    expect(await coins(wallet)).toBe(100n);
    // The same coins for another resource: the shop has them already.
    const pay = createPayFetch(wallet);
    const conflict = await pay(`${shop.url}/item?second`);
    expect([conflict.status, (await conflict.json()).code]).toEqual([409, 'payment_conflict']);
    expect(await coins(wallet)).toBe(77n);
    expect((await pay(url)).status).toBe(200);
    expect(await coins(wallet)).toBe(54n);
  });
});
