import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seedPgliteDataDir } from '@netpay/db/testing';
import { HEADERS } from '@netpay/protocol';
import { createPayFetch, memoryStorage, openWallet, recoverPayments, type Wallet } from '@netpay/wallet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorld, type World } from '../../../broker/test/world.ts';
import { startGreetings } from './sites.ts';

/** E-greetings' send-a-card API over real HTTP, paid by a wallet from the real broker. */
describe('e-greetings sends cards [pglite]', () => {
  let w: World;
  let shop: Awaited<ReturnType<typeof startGreetings>>;
  let wallet: Wallet;
  const dir = mkdtempSync(join(tmpdir(), 'netpay-sites-'));

  beforeAll(async () => {
    w = await startWorld('pglite');
    seedPgliteDataDir(join(dir, 'data', 'db')); // a copy of the run's empty PGlite cluster: no initdb
    shop = await startGreetings({
      port: 0,
      dataDir: join(dir, 'data'),
      filesDir: join(dir, 'files'),
      brokerUrl: w.url,
      walletUrl: () => 'http://127.0.0.1:9/',
      redeemEveryMs: 0,
      clock: w.clock,
    });
    wallet = await openWallet({ storage: memoryStorage(), brokerUrl: w.url });
    await wallet.register({ login: 'sender@example.com', password: 'correct horse battery' });
    await wallet.verify(await w.latestCode('sender@example.com'));
    const bank = await w.bankClient.createAccount({ name: 'sender', initialBalance: 100_000n });
    await wallet.load(10_000n, { account: bank.id, token: bank.token });
    await wallet.buy([{ coinValue: 10n, n: 40 }]);
  });
  afterAll(async () => {
    await shop?.close();
    await w?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Everything the shop has taken, as its dashboard counts it. */
  const taken = async () => (await shop.store.revenue(0)).reduce((sum, r) => sum + BigInt(r.amount), 0n);
  const send = (body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${shop.url}/send`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });

  it('pays for a card and gives a link the recipient opens for free', async () => {
    const res = await createPayFetch(wallet)(`${shop.url}/send`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ card: 'thanks', to: 'Kim', from: 'Sam', message: 'Thanks for <everything>' }),
    });
    expect(res.status).toBe(200);
    expect(res.netpay?.paid).toBe(50n);
    const { link } = (await res.json()) as { link: string };
    expect(link).toMatch(new RegExp(`^${shop.url}/received/[A-Za-z0-9_-]{22}$`));
    const card = await fetch(link);
    expect(card.status).toBe(200);
    const text = await card.text();
    expect(text).toContain('A card for Kim');
    expect(text).toContain('Thanks for &lt;everything&gt;'); // escaped, not markup
    expect((await fetch(`${shop.url}/received/${'A'.repeat(22)}`)).status).toBe(404);
  });

  it('sends one card per payment: the same payment sent again gets the same link, free', async () => {
    const coins = (await wallet.balance({ broker: false })).coins;
    const before = await taken();
    const p = await wallet.pay({ amount: 50n, vendorId: 'e-greetings', resource: 'POST /send' });
    const body = { card: 'birthday', to: 'Ann', from: 'Sam' };
    const first = await send(body, { [HEADERS.payment]: p.header });
    expect(first.status).toBe(200);
    // The answer was "lost": the wallet resends the same header.
    const again = await send(body, { [HEADERS.payment]: p.header });
    expect(again.status).toBe(200);
    expect((await again.json()).id).toBe((await first.json()).id);
    await wallet.settle(p.id, { accepted: true });
    expect((await wallet.balance({ broker: false })).coins).toBe(coins - 50n);
    expect(await taken()).toBe(before + 50n);
  });

  it('settles a card whose answer was lost by sending the same POST again, body and all', async () => {
    const before = await taken();
    let cut = 0;
    // The request reaches the shop, the answer does not (the connection drops once).
    const lossy: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      if (new Headers(init?.headers).has(HEADERS.payment) && cut++ === 0) {
        await res.arrayBuffer();
        throw new TypeError('socket hang up');
      }
      return res;
    };
    const body = { card: 'congrats', to: 'Max', from: 'Sam', message: 'Well done' };
    await expect(
      createPayFetch(wallet, { fetch: lossy })(`${shop.url}/send`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }),
    ).rejects.toMatchObject({ code: 'vendor_unreachable' });
    expect(wallet.unsettled()).toEqual([
      expect.objectContaining({
        resource: 'POST /send',
        request: expect.objectContaining({ method: 'POST' }),
      }),
    ]);
    expect(await recoverPayments(wallet)).toMatchObject({ resent: 1, accepted: 1, refused: 0 });
    expect(wallet.unsettled()).toEqual([]);
    expect(wallet.history().at(-1)).toMatchObject({ status: 'accepted', resource: 'POST /send' });
    // Paid once, one card: the resent POST found the card the first one made.
    expect(await taken()).toBe(before + 50n);
    const [cards] = await shop.db.query<{ n: bigint }>(
      "SELECT count(*)::int8 AS n FROM greetings_sent WHERE to_name = 'Max'",
    );
    expect(cards!.n).toBe(1n);
  });

  it('pays nothing for a request it could not keep to send again (a header too big to keep)', async () => {
    const before = wallet.history().length;
    await expect(
      createPayFetch(wallet)(`${shop.url}/send`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-note': 'a'.repeat(9_000) },
        body: JSON.stringify({ card: 'thanks', to: 'Kim', from: 'Sam' }),
      }),
    ).rejects.toMatchObject({ code: 'request_not_kept' });
    expect(wallet.history()).toHaveLength(before);
    // The wallet document is still whole (it would not load with a record it cannot hold).
    await wallet.refresh();
  });

  it('refuses a card it cannot send before asking for money, and changes nothing', async () => {
    const before = await taken();
    for (const [body, field] of [
      [{ card: 'nope', to: 'a', from: 'b' }, 'card'],
      [{ card: 'thanks', to: '', from: 'b' }, 'to'],
      [{ card: 'thanks', to: 'a', from: 'b', message: 'x'.repeat(501) }, 'message'],
      [{ card: 'thanks', to: 'a', from: 'b', extra: 1 }, 'body'],
    ] as const) {
      const res = await send(body);
      expect(res.status, field).toBe(400);
      const answer = (await res.json()) as { code: string; message: string };
      expect(answer.code).toBe('bad_request');
      if (field !== 'body') expect(answer.message).toContain(field);
    }
    const notJson = await fetch(`${shop.url}/send`, { method: 'POST', body: 'hello' });
    expect(notJson.status).toBeGreaterThanOrEqual(400);
    expect(notJson.status).toBeLessThan(500);
    // Unpaid, a valid card is a 402 with the terms (and the server-side wallet's sign-in link).
    const unpaid = await send({ card: 'thanks', to: 'a', from: 'b' });
    expect(unpaid.status).toBe(402);
    const terms = ((await unpaid.json()) as { terms: { price: string; wallet?: { signIn: string } } }).terms;
    expect(terms.price).toBe('50');
    expect(terms.wallet?.signIn).toContain('/netpay/wallet/signin');
    expect(await taken()).toBe(before);
  });
});
