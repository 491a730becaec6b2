import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createBankClient } from '@netpay/bank/client';
import { describe, expect, it } from 'vitest';
import { ENV, firstLine, processScope, STACK_FRAME } from './testing.ts';

describe('netpay vendor (real processes)', () => {
  const { dir, start, bank, broker, vendor: startVendor, vendorRun } = processScope('netpay-vendor-cli-');

  it('sells a folder beside a broker, answers 402 with terms, and redeems offline once stopped', async () => {
    const { run: bankProcess, url: bankUrl } = await bank();
    const { run: brokerProcess, url: brokerUrl } = await broker(bankUrl);

    mkdirSync(join(dir, 'public'));
    writeFileSync(join(dir, 'public', 'paper.pdf'), 'a paper');
    writeFileSync(join(dir, 'public', 'index.txt'), 'hello');
    const prices = join(dir, 'prices.json');
    writeFileSync(prices, JSON.stringify({ vendorId: 'cli-shop', prices: { '*.pdf': '50' } }));
    const args = ['--prices', prices, '--broker', brokerUrl, '--data', join(dir, 'vendor')];
    const vendor = start(
      ['vendor', 'start', '--port', '0', '--json', '--folder', join(dir, 'public'), ...args],
      ENV,
    );
    const info = JSON.parse(await firstLine(vendor));
    expect(info).toMatchObject({ vendorId: 'cli-shop' });
    expect(await (await fetch(`${info.url}/index.txt`)).text()).toBe('hello');
    const unpaid = await fetch(`${info.url}/paper.pdf`);
    expect(unpaid.status).toBe(402);
    expect((await unpaid.json()).terms).toMatchObject({ price: '50', vendorId: 'cli-shop' });
    const party = await (await fetch(`${brokerUrl}/parties/cli-shop`)).json();
    expect(party).toMatchObject({ id: 'cli-shop', publicKey: info.publicKey, url: info.url });
    vendor.child.kill('SIGTERM');
    expect((await vendor.exit).code).toBe(0);

    const redeem = start(['vendor', 'redeem', '--json', ...args], ENV);
    const out = JSON.parse(await firstLine(redeem));
    expect(out).toMatchObject({
      vendorId: 'cli-shop',
      redemption: { claims: 0 },
      statement: { accepted: '0' },
    });
    expect((await redeem.exit).code).toBe(0);
    for (const r of [brokerProcess, bankProcess]) r.child.kill('SIGTERM');
  });

  it('opens a bank account, and registers a vendor at a broker outside dev mode only with an invitation', async () => {
    const { run: bankProcess, url: bankUrl } = await bank();
    const open = start(
      ['bank', 'open', '--bank', bankUrl, '--name', 'Sam', '--balance', '5.00', '--json'],
      ENV,
    );
    const account = JSON.parse(await firstLine(open));
    expect(account).toMatchObject({ name: 'Sam', balance: { minor: '50000', formatted: '5.0000' } });
    expect(account.id).toMatch(/^acc_/);
    expect((await createBankClient(bankUrl).getAccount(account.token, account.id)).balance).toBe(50_000n);
    expect((await open.exit).code).toBe(0);

    const admin = { ...ENV, NETPAY_ADMIN_TOKEN: 'cli-admin-token-0123456789' };
    const brokerProcess = start(
      ['broker', 'start', '--port', '0', '--json', '--data', join(dir, 'closed-broker'), '--bank', bankUrl],
      admin,
    );
    const brokerUrl = String(JSON.parse(await firstLine(brokerProcess)).url);
    mkdirSync(join(dir, 'shop-files'));
    const shop = {
      vendorId: 'invited-shop',
      prices: { '*.pdf': '50' },
      folder: join(dir, 'shop-files'),
      brokerUrl,
      data: 'invited',
      env: ENV,
    };
    const { run: refused } = vendorRun(shop);
    expect((await refused.exit).code).not.toBe(0);
    expect(refused.stderr()).toMatch(/invitation_required.*--invite TOKEN/);
    expect(refused.stderr()).not.toMatch(STACK_FRAME);

    const invite = start(
      ['broker', 'invite', '--broker', brokerUrl, '--id', 'invited-shop', '--json'],
      admin,
    );
    const invitation = JSON.parse(await firstLine(invite));
    expect(invitation).toMatchObject({ kind: 'vendor', partyId: 'invited-shop' });
    expect((await invite.exit).code).toBe(0);
    const noToken = start(['broker', 'invite', '--broker', brokerUrl], ENV);
    expect((await noToken.exit).code).not.toBe(0);
    expect(noToken.stderr()).toMatch(/NETPAY_ADMIN_TOKEN/);

    for (const extra of [['--invite', invitation.token], []]) {
      // First start with the invitation; a restart needs none.
      const { run: vendor, info } = await startVendor({ ...shop, extra });
      expect(await (await fetch(`${brokerUrl}/parties/invited-shop`)).json()).toMatchObject({
        publicKey: info.publicKey,
      });
      vendor.child.kill('SIGTERM');
      expect((await vendor.exit).code).toBe(0);
    }
    for (const r of [brokerProcess, bankProcess]) r.child.kill('SIGTERM');
  });

  it('explains a bad price list in one line', async () => {
    const bad = join(dir, 'bad-prices.json');
    writeFileSync(bad, JSON.stringify({ vendorId: 'x', prices: { '*.pdf': '0.5' } }));
    const run = start(['vendor', 'redeem', '--prices', bad, '--broker', 'http://127.0.0.1:9']);
    expect((await run.exit).code).not.toBe(0);
    expect(run.stderr()).toMatch(/price list .*prices/);
    expect(run.stderr()).not.toMatch(STACK_FRAME);
  });
});
