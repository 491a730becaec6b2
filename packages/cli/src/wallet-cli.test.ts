/**
 * `netpay wallet …` and `netpay fetch` end to end, as a new user would run them, through --json, against
 * real bank, broker and vendor processes.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createBankClient } from '@netpay/bank/client';
import { beforeAll, describe, expect, it } from 'vitest';
import { ENV, processScope, STACK_FRAME } from './testing.ts';

describe('netpay wallet and netpay fetch (real processes)', () => {
  const { dir, start, bank, broker, vendor } = processScope('netpay-wallet-cli-');
  let brokerUrl = '';
  let bankUrl = '';
  let shopUrl = '';
  let musicUrl = '';
  const env = { ...ENV, NETPAY_PASSWORD: 'correct horse battery' };

  /** Runs one wallet command to the end; returns its exit code, parsed JSON line and stderr. */
  async function run(args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
    const r = start([...args, '--json'], { ...env, ...extraEnv });
    const { code } = await r.exit;
    const line = r.stdout().trim().split('\n').at(-1) ?? '';
    return { code, json: line ? JSON.parse(line) : undefined, stderr: r.stderr() };
  }

  beforeAll(async () => {
    bankUrl = (await bank()).url;
    brokerUrl = (await broker(bankUrl)).url;
    mkdirSync(join(dir, 'public'));
    writeFileSync(join(dir, 'public', 'paper.pdf'), 'the paper');
    const sells = { prices: { '*.pdf': '50' }, folder: join(dir, 'public'), brokerUrl };
    shopUrl = (await vendor({ vendorId: 'paper-shop', ...sells })).url;
    // A second vendor selling the same file: paying it moves the chain over (hand-over).
    musicUrl = (await vendor({ vendorId: 'music-shop', ...sells })).url;
  });

  const code = async (login: string) => {
    const res = await fetch(`${brokerUrl}/dev/outbox?recipient=${encodeURIComponent(login)}`);
    return /(\d{6})/.exec((await res.json()).messages.at(-1).body)![1]!;
  };

  async function newUser(name: string) {
    const wallet = join(dir, `wallet-${name}`);
    const login = `${name}@example.com`;
    const w = ['--wallet', wallet];
    const reg = await run(['wallet', 'register', '--login', login, '--broker', brokerUrl, ...w]);
    expect(reg.code, reg.stderr).toBe(0);
    expect(reg.json).toMatchObject({ codeSentTo: login });
    const ver = await run(['wallet', 'verify', await code(login), ...w]);
    expect(ver.json).toMatchObject({ signedIn: true });
    return { wallet: w, login };
  }

  it('registers, loads, buys, pays a vendor within --max-price, and refuses above it', async () => {
    const { wallet } = await newUser('ada');
    const account = await createBankClient(bankUrl).createAccount({
      name: 'ada',
      initialBalance: 1_000_000n,
    });
    const load = await run(['wallet', 'load', '10.00', '--bank-account', account.id, ...wallet], {
      NETPAY_BANK_TOKEN: account.token,
    });
    expect(load.code, load.stderr).toBe(0);
    expect(load.json.loaded).toEqual({ minor: '100000', formatted: '10.0000' });
    const buy = await run(['wallet', 'buy', '--coin-value', '0.0010', '--coins', '200', ...wallet]);
    expect(buy.json.total).toEqual({ minor: '2000', formatted: '0.2000' });
    const small = await run(['wallet', 'buy', '--coin-value', '0.0001', '--coins', '100', ...wallet]);
    expect(small.code, small.stderr).toBe(0);
    const balance = await run(['wallet', 'balance', ...wallet]);
    expect(balance.json).toMatchObject({
      coins: { minor: '2100' },
      atBroker: { minor: String(100_000 - 2_100) },
      denominations: [
        { coinValue: { minor: '10' }, coins: 200 },
        { coinValue: { minor: '1' }, coins: 100 },
      ],
    });

    const paid = await run(['fetch', `${shopUrl}/paper.pdf`, '--max-price', '0.01', ...wallet]);
    expect(paid.code, paid.stderr).toBe(0);
    expect(paid.json).toMatchObject({
      status: 200,
      paid: { minor: '50' },
      vendorId: 'paper-shop',
      body: 'the paper',
    });
    const tooDear = await run(['fetch', `${shopUrl}/paper.pdf`, '--max-price', '0.001', ...wallet]);
    expect(tooDear.code).not.toBe(0);
    expect(tooDear.json).toMatchObject({ error: { code: 'over_max_price' } });
    expect(tooDear.stderr).not.toMatch(STACK_FRAME);

    // The same coins' chain, next at the other vendor, then back: each hand-over is invisible here.
    const there = await run(['fetch', `${musicUrl}/paper.pdf`, '--max-price', '0.01', ...wallet]);
    expect(there.json).toMatchObject({ status: 200, paid: { minor: '50' }, vendorId: 'music-shop' });
    const back = await run(['fetch', `${shopUrl}/paper.pdf`, '--max-price', '0.01', ...wallet]);
    expect(back.json).toMatchObject({ status: 200, vendorId: 'paper-shop' });

    const history = await run(['wallet', 'history', '--limit', '1', ...wallet]);
    expect(history.json.payments).toHaveLength(1);
    expect(history.json.payments[0]).toMatchObject({
      status: 'accepted',
      vendorId: 'paper-shop',
      amount: { minor: '50' },
    });
    const all = await run(['wallet', 'history', ...wallet]);
    expect(all.json.payments.map((p: { vendorId: string }) => p.vendorId)).toEqual([
      'paper-shop',
      'music-shop',
      'paper-shop',
    ]);
  });

  it('survives a crash between writing a payment down and sending it: no payword reused, balance adds up', async () => {
    const { wallet } = await newUser('bo');
    const account = await createBankClient(bankUrl).createAccount({ name: 'bo', initialBalance: 1_000_000n });
    await run(['wallet', 'load', '1.00', '--bank-account', account.id, ...wallet], {
      NETPAY_BANK_TOKEN: account.token,
    });
    await run(['wallet', 'buy', '--coin-value', '0.0010', '--coins', '100', ...wallet]);
    expect((await run(['fetch', `${shopUrl}/paper.pdf`, '--max-price', '0.01', ...wallet])).code).toBe(0);
    const crashed = await run(['fetch', `${shopUrl}/paper.pdf`, '--max-price', '0.01', ...wallet], {
      NETPAY_FAULT: 'exit-before-send',
    });
    expect(crashed.code).toBe(75);
    // The next command settles the payment left in flight (the vendor never saw it: it takes it now).
    expect((await run(['fetch', `${shopUrl}/paper.pdf`, '--max-price', '0.01', ...wallet])).code).toBe(0);
    const history = await run(['wallet', 'history', ...wallet]);
    const payments = history.json.payments as {
      status: string;
      parts: { chainId: string; index: number }[];
    }[];
    expect(payments.map((p) => p.status)).toEqual(['accepted', 'accepted', 'accepted']);
    const words = payments.flatMap((p) => p.parts.map((x) => `${x.chainId}:${x.index}`));
    expect(new Set(words).size).toBe(words.length);
    const balance = await run(['wallet', 'balance', ...wallet]);
    expect(balance.json.coins.minor).toBe(String(1_000 - 3 * 50));
  });

  it('sends money to another user and refunds the rest to the bank', async () => {
    const { wallet } = await newUser('cy');
    const friend = await newUser('dee');
    const account = await createBankClient(bankUrl).createAccount({ name: 'cy', initialBalance: 1_000_000n });
    await run(['wallet', 'load', '2.00', '--bank-account', account.id, ...wallet], {
      NETPAY_BANK_TOKEN: account.token,
    });
    await run(['wallet', 'buy', '--coin-value', '0.0010', '--coins', '100', ...wallet]);
    const sent = await run(['wallet', 'send', friend.login, '0.5000', ...wallet]);
    expect(sent.code, sent.stderr).toBe(0);
    expect(sent.json).toMatchObject({ amount: { minor: '5000' }, balance: { minor: '14000' } });
    const refund = await run(['wallet', 'refund', '--to-bank', account.id, ...wallet]);
    expect(refund.code, refund.stderr).toBe(0);
    expect(refund.json).toMatchObject({ refunded: { minor: '1000' }, unloaded: { minor: '1000' } });
    const friendBalance = await run(['wallet', 'balance', ...friend.wallet]);
    expect(friendBalance.json.atBroker.minor).toBe('5000');
  });

  it('loads and sends under a key given with --key: the same command again moves the money once', async () => {
    const { wallet } = await newUser('kim');
    const friend = await newUser('lee');
    const bankClient = createBankClient(bankUrl);
    const account = await bankClient.createAccount({ name: 'kim', initialBalance: 1_000_000n });
    const load = [
      'wallet',
      'load',
      '2.00',
      '--bank-account',
      account.id,
      '--key',
      'load-kim-0001',
      ...wallet,
    ];
    const bankEnv = { NETPAY_BANK_TOKEN: account.token };
    const first = await run(load, bankEnv);
    const again = await run(load, bankEnv);
    expect([first.code, again.code], again.stderr).toEqual([0, 0]);
    expect(again.json).toEqual(first.json);
    expect((await bankClient.getAccount(account.token, account.id)).balance).toBe(1_000_000n - 20_000n);

    const send = ['wallet', 'send', friend.login, '0.5000', '--key', 'send-kim-0001', ...wallet];
    expect((await run(send)).json).toMatchObject({ balance: { minor: '15000' } });
    expect((await run(send)).json).toMatchObject({ balance: { minor: '15000' } });
    expect((await run(['wallet', 'balance', ...friend.wallet])).json.atBroker.minor).toBe('5000');

    const bad = await run(['wallet', 'send', friend.login, '0.5000', '--key', 'short', ...wallet]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('--key must be 8–128 printable characters');
  });

  it('refunds at once after paying: the shop is credited every coin it gave a receipt for', async () => {
    // The README's "Paying as a customer", then a refund straight away (issue 13's reproduction).
    const shop = await vendor({
      vendorId: 'quick-shop',
      prices: { '*.pdf': '50' },
      folder: join(dir, 'public'),
      brokerUrl,
      extra: ['--redeem-every', '1'],
    });
    const { wallet } = await newUser('eve');
    const account = await createBankClient(bankUrl).createAccount({
      name: 'eve',
      initialBalance: 1_000_000n,
    });
    await run(['wallet', 'load', '20.00', '--bank-account', account.id, ...wallet], {
      NETPAY_BANK_TOKEN: account.token,
    });
    await run(['wallet', 'buy', '--coin-value', '0.0010', '--coins', '1000', ...wallet]);
    const paid = await run(['fetch', `${shop.url}/paper.pdf`, '--max-price', '0.01', ...wallet]);
    expect(paid.json).toMatchObject({ status: 200, paid: { minor: '50' } });
    const refund = await run(['wallet', 'refund', ...wallet]);
    expect(refund.code, refund.stderr).toBe(0);
    // 995 of the 1000 coins come back; the 5 the shop accepted stay the shop's.
    expect(refund.json).toMatchObject({ refunded: { minor: '9950' } });
    const balance = await run(['wallet', 'balance', ...wallet]);
    expect(balance.json.atBroker.minor).toBe(String(200_000 - 50));
    // The last holder refuses the refunded chain; the shop redeems what it accepted.
    await expect
      .poll(async () => (await fetch(`${shop.url}/netpay/statement`)).json(), { timeout: 20_000 })
      .toMatchObject({ accepted: '50', redeemed: '50', refusedClaims: 0 });
  });

  it('explains mistakes in one line with a non-zero exit', async () => {
    const none = await run(['wallet', 'balance', '--wallet', join(dir, 'nobody')]);
    expect(none.code).not.toBe(0);
    expect(none.stderr).toMatch(/give the broker URL/);
    expect(none.stderr).not.toMatch(STACK_FRAME);
    const badAmount = await run(['wallet', 'send', 'x@example.com', '-3', '--wallet', join(dir, 'nobody')]);
    expect(badAmount.code).not.toBe(0);
    const help = start(['wallet', 'buy', '--help']);
    await help.exit;
    expect(help.stdout()).toMatch(/Example:/);
  });
});
