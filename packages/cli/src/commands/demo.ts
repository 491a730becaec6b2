import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NetPayError } from '@netpay/protocol';
import type { Command } from 'commander';
import { shopsFor, startGreetings, startMusic } from '../demo/sites.ts';
import { cliError } from '../errors.ts';
import { listenForStop } from '../lifecycle.ts';
import { DirSchema, PortSchema, zodArg } from '../options.ts';

interface DemoFlags {
  data: string;
  reset?: boolean;
  json?: boolean;
  port: number;
}

/** The demo's customers: printed with their passwords, so a newcomer can sign in at once. */
const DEMO_CUSTOMERS = [
  { login: 'alice@example.com', name: 'Alice' },
  { login: 'bob@example.com', name: 'Bob' },
] as const;
const DEMO_PASSWORD = 'netpay demo password';

export function registerDemoCommands(program: Command): void {
  program
    .command('demo')
    .description(
      'run the whole system on this machine: bank, broker and two vendor sites, with demo accounts',
    )
    .option(
      '-d, --data <dir>',
      'where the demo keeps its data between runs',
      zodArg(DirSchema),
      '.netpay/demo',
    )
    .option('--reset', 'start from scratch (deletes the demo data folder first)')
    .option(
      '-p, --port <n>',
      'first port: bank on it, broker +100, e-greetings +201, e-music +202, web wallet +300; 0: free ports',
      zodArg(PortSchema),
      4100,
    )
    .option('--json', 'print one JSON line with the URLs once everything answers')
    .addHelpText(
      'after',
      `
Examples:
  $ npm start                       (the same as netpay demo)
  $ netpay demo --reset             fresh accounts and an empty ledger
  $ netpay demo --port 0 --json     free ports; one JSON line with every URL`,
    )
    .action((flags: DemoFlags) => runDemo(flags));
}

async function runDemo(flags: DemoFlags): Promise<void> {
  const { existsSync, readFileSync, rmSync } = await import('node:fs');
  const { resolve } = await import('node:path');
  const dir = resolve(flags.data);
  if (flags.reset) rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stop = listenForStop();
  const running: { close(): Promise<void> }[] = [];
  const port = (offset: number) => (flags.port === 0 ? 0 : flags.port + offset);
  const note = (text: string) => {
    if (!flags.json) process.stderr.write(text);
  };
  try {
    const { startBank } = await import('@netpay/bank');
    const { createBankClient } = await import('@netpay/bank/client');
    const { startBroker } = await import('@netpay/broker');
    const { currency, createSigner, randomBytes, toBase64url } = await import('@netpay/protocol');

    note('starting the bank, the broker and two vendor sites (the first run takes a few seconds)…\n');
    const bank = await startBank({
      port: port(0),
      dataDir: join(dir, 'bank'),
      dev: true,
      currency: currency('USD', 4),
    });
    running.push(bank);
    const bankClient = createBankClient(bank.url);

    // Secrets made on the first run and kept in the data folder (owner-only).
    const secretsFile = join(dir, 'secrets.json');
    let secrets: {
      adminToken: string;
      brokerBank: { account: string; token: string };
      parties: Record<string, string>;
    };
    if (existsSync(secretsFile)) secrets = JSON.parse(readFileSync(secretsFile, 'utf8'));
    else {
      const account = await bankClient.createAccount({ name: 'NetPay demo broker' });
      secrets = {
        adminToken: toBase64url(randomBytes(24)),
        brokerBank: { account: account.id, token: account.token },
        parties: Object.fromEntries(
          ['demo-label', 'demo-operator'].map((id) => [id, toBase64url(randomBytes(32))]),
        ),
      };
      writeFileSync(secretsFile, JSON.stringify(secrets), { mode: 0o600 });
    }

    const broker = await startBroker({
      port: port(100),
      dataDir: join(dir, 'broker'),
      bankUrl: bank.url,
      config: {
        brokerId: 'broker.demo',
        dev: true,
        // Dev mode for the outbox, but no open registration: a vendor needs an invitation (the two shops get one).
        registration: 'invitation',
        adminToken: secrets.adminToken,
        bank: secrets.brokerBank,
        // Settle vendors every minute in the demo, so payouts show up while you watch.
        schedule: { settlementSeconds: 60 },
      },
    });
    running.push(broker);
    const services = broker.broker.services;

    // The music label and the access operator take a share of every track (multi-party payments).
    for (const [id, seed] of Object.entries(secrets.parties)) {
      const existing = await services.parties.get(id).catch(() => undefined);
      if (!existing) {
        await services.parties.register({
          id,
          kind: 'vendor',
          name: id === 'demo-label' ? 'Demo Records (label)' : 'Demo Mobile (access operator)',
          publicKey: toBase64url(createSigner(Buffer.from(seed, 'base64url')).publicKey),
          invitation: (await services.parties.invite({ kind: 'vendor', partyId: id, expiresInSeconds: 60 }))
            .token,
        });
      }
    }

    // The two shops' pages embed the web wallet's script; its URL is known once the wallet listens.
    let walletUrl = '';
    // Each shop registers itself over HTTP on its first start, with an invitation made for its id.
    const invitation = async (id: string) =>
      (await services.parties.get(id).catch(() => undefined))
        ? {}
        : {
            invitation: (
              await services.parties.invite({ kind: 'vendor', partyId: id, expiresInSeconds: 600 })
            ).token,
          };
    const site = async (id: string) => ({
      ...(await invitation(id)),
      dataDir: join(dir, id),
      filesDir: join(dir, 'sites', id),
      brokerUrl: broker.url,
      walletUrl: () => walletUrl,
      redeemEveryMs: 30_000,
    });
    const greetings = await startGreetings({ port: port(201), ...(await site('e-greetings')) });
    running.push(greetings);
    const music = await startMusic({ port: port(202), ...(await site('e-music')) });
    running.push(music);

    // The web wallet, built with Vite on each start and served beside the sites.
    const { startWeb } = await import('@netpay/web/server');
    const web = await startWeb({
      port: port(300),
      outDir: join(dir, '.web-build'),
      broker: broker.url,
      shops: shopsFor(greetings, music),
    });
    walletUrl = web.url;
    running.push(web);

    // Demo customers on the first run: an account, a verified device, money at the bank and the broker.
    const accountsFile = join(dir, 'demo-accounts.json');
    let customers: { login: string; password: string; bankAccount: string; bankToken: string }[];
    if (existsSync(accountsFile)) customers = JSON.parse(readFileSync(accountsFile, 'utf8'));
    else {
      customers = [];
      for (const c of DEMO_CUSTOMERS) {
        const reg = await services.accounts.register({
          login: c.login,
          password: DEMO_PASSWORD,
          deviceName: 'demo',
        });
        const code = /(\d{6})/.exec((await services.accounts.outbox(c.login)).at(-1)!.body)![1]!;
        const verified = await services.accounts.verifyDevice({ deviceId: reg.deviceId, code });
        if (!verified.ok) throw new Error(`demo: could not verify ${c.login}`);
        const acct = await bankClient.createAccount({ name: c.name, initialBalance: 1_000_000n });
        await services.issuance.load(
          reg.customerId,
          { amount: 200_000n, bankAccount: acct.id, bankToken: acct.token },
          `demo-load-${c.login}`,
        );
        customers.push({
          login: c.login,
          password: DEMO_PASSWORD,
          bankAccount: acct.id,
          bankToken: acct.token,
        });
      }
      writeFileSync(accountsFile, JSON.stringify(customers, null, 2), { mode: 0o600 });
    }

    const urls = {
      wallet: web.url,
      bank: bank.url,
      broker: broker.url,
      brokerDocs: `${broker.url}/docs`,
      dashboard: `${web.url}/dashboard.html`,
      operator: `${web.url}/admin.html`,
      outbox: `${broker.url}/dev/outbox`,
      greetings: greetings.url,
      music: music.url,
    };
    if (stop.requested()) return;
    if (flags.json) {
      process.stdout.write(
        `${JSON.stringify({ urls, adminToken: secrets.adminToken, customers, secrets: secretsFile, data: dir })}\n`,
      );
    } else {
      process.stdout.write(
        [
          '',
          'NetPay demo is running:',
          `  web wallet    ${urls.wallet}   (sign in as a demo customer, buy coins, pay the shops)`,
          `  dashboard     ${urls.dashboard}   (the two shops' revenue and payouts)`,
          `  operator      ${urls.operator}   (the broker's books; admin token ${secrets.adminToken})`,
          `  bank          ${urls.bank}`,
          `  broker        ${urls.broker}   (API at ${urls.brokerDocs})`,
          `  e-greetings   ${urls.greetings}/   browse cards free, send one for 0.0050 USD`,
          `  e-music       ${urls.music}/   tracks 0.0100 USD, or stream 0.0010 USD per 10 s (shared with a label and an operator)`,
          '',
          'Demo customers (each with 20.0000 USD at the broker and 100.0000 USD at the bank):',
          ...customers.map(
            (c) =>
              `  ${c.login.padEnd(20)} password "${c.password}"  bank account ${c.bankAccount}  bank token ${c.bankToken}`,
          ),
          '',
          'Try it from another terminal:',
          `  NETPAY_PASSWORD="${DEMO_PASSWORD}" npm run netpay -- wallet login --login alice@example.com --broker ${urls.broker}`,
          `  (the code for a new device: ${urls.outbox}?recipient=alice@example.com)`,
          `  npm run netpay -- wallet buy --coin-value 0.0010 --coins 500`,
          `  npm run netpay -- fetch ${urls.greetings}/cards/birthday.html --max-price 0.01`,
          '',
          `Data is kept in ${dir} (--reset starts fresh). Stop with Ctrl-C.`,
          '',
        ].join('\n'),
      );
    }
    await stop.signal;
    note('stopping…\n');
  } catch (e) {
    throw e instanceof NetPayError ? e : cliError(`the demo could not start: ${(e as Error).message}`);
  } finally {
    stop.dispose();
    for (const r of running.reverse()) await r.close().catch(() => {});
  }
}
