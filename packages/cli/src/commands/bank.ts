import type { Command } from 'commander';
import { z } from 'zod';
import { cliError } from '../errors.ts';
import { databaseFromEnv, serveUntilStopped } from '../lifecycle.ts';
import { AmountSchema, DirSchema, HostSchema, PortSchema, redactUrl, UrlSchema, zodArg } from '../options.ts';

export const DEFAULT_BANK_PORT = 4100;

const CurrencyCodeArg = z
  .string()
  .regex(/^[A-Z][A-Z0-9]{2,11}$/, 'must be 3–12 uppercase letters or digits, e.g. USD');
const ExponentArg = z
  .string()
  .regex(/^\d{1,2}$/, 'must be the number of decimal places, 0–18')
  .transform(Number)
  .pipe(z.number().max(18, 'must be the number of decimal places, 0–18'));

interface StartFlags {
  port: number;
  host: string;
  data?: string;
  currency: string;
  exponent: number;
  dev: boolean;
  json: boolean;
}

export function registerBankCommands(program: Command): void {
  const bank = program
    .command('bank')
    .description('the stand-in bank: accounts and transfers the broker settles through')
    .addHelpText('after', '\nExample:\n  $ netpay bank start --port 4100');

  bank
    .command('start')
    .description(
      'run the bank service until Ctrl-C (PGlite in a folder, or PostgreSQL when DATABASE_URL is set)',
    )
    .option('-p, --port <n>', 'port to listen on; 0 picks a free one', zodArg(PortSchema), DEFAULT_BANK_PORT)
    .option('-H, --host <host>', 'address to listen on', zodArg(HostSchema), '127.0.0.1')
    .option('-d, --data <dir>', 'folder of the embedded database (default ./.netpay/bank)', zodArg(DirSchema))
    .option('--currency <code>', 'the one currency of this bank', zodArg(CurrencyCodeArg), 'USD')
    .option('--exponent <n>', 'decimal places of one minor unit', zodArg(ExponentArg), 2)
    .option('--no-dev', 'production mode: accounts cannot be opened with an initial balance')
    .option('--json', 'print one JSON line {url, database, …} instead of text')
    .addHelpText(
      'after',
      `
Environment:
  DATABASE_URL   postgres://user:pass@host/db keeps the bank on PostgreSQL instead of the embedded PGlite

Examples:
  $ netpay bank start
  $ netpay bank start --port 0 --json --data /tmp/bank
  $ DATABASE_URL=postgres://localhost/netpay_bank netpay bank start --no-dev`,
    )
    .action((flags: StartFlags) => startBankCommand(flags));

  bank
    .command('open')
    .description('open an account at a running bank and print its id and token (shown once)')
    .option('--bank <url>', 'URL of the running bank', zodArg(UrlSchema), 'http://127.0.0.1:4100')
    .option('--name <name>', "the account holder's name", zodArg(NameArg), 'NetPay customer')
    .option(
      '--balance <amount>',
      'opening balance in major units, e.g. 100.00 (a dev bank only)',
      zodArg(AmountSchema),
    )
    .option('--json', 'print one JSON line {id, name, balance, token}')
    .addHelpText(
      'after',
      `
The token is the account's password at the bank: the broker needs it (with the id) to load money from the
account. Keep it: the bank shows it only here.

Example:
  $ netpay bank open --name 'Sam' --balance 100.00
  $ export NETPAY_BANK_TOKEN=bkt_…   then: netpay wallet load 20.00 --bank-account acc_…`,
    )
    .action((flags: OpenFlags) => openAccount(flags));
}

interface OpenFlags {
  bank: string;
  name: string;
  balance?: string;
  json?: boolean;
}

const NameArg = z.string().min(1, 'must not be empty').max(128, 'must be at most 128 characters');

/** POST /accounts at the bank, with the opening balance in the bank's own currency. */
async function openAccount(flags: OpenFlags): Promise<void> {
  const { createBankClient } = await import('@netpay/bank/client');
  const { currency, formatAmount, money, parseAmount } = await import('@netpay/protocol');
  const client = createBankClient(flags.bank);
  const reach = (e: unknown): never => {
    throw cliError(`the bank at ${flags.bank} answered: ${(e as Error).message}`);
  };
  const info = await client.info().catch(reach);
  const cur = currency(info.currency.code, info.currency.exponent);
  let initialBalance: bigint | undefined;
  if (flags.balance !== undefined) {
    if (!info.dev) throw cliError('this bank is not in dev mode: it opens accounts with no balance only');
    const parsed = parseAmount(flags.balance, cur);
    if (!parsed.ok) throw cliError(`--balance: ${parsed.error.message}`);
    initialBalance = parsed.value.minor;
  }
  const account = await client
    .createAccount({ name: flags.name, ...(initialBalance !== undefined ? { initialBalance } : {}) })
    .catch(reach);
  const balance = formatAmount(money(account.balance, cur));
  if (flags.json) {
    const { id, name, token } = account;
    process.stdout.write(
      `${JSON.stringify({ id, name, token, balance: { minor: account.balance.toString(), formatted: balance } })}\n`,
    );
    return;
  }
  process.stdout.write(
    `Opened ${account.id} (${account.name}) with ${balance} ${cur.code}.\n` +
      `  token  ${account.token}   (shown once; the broker needs it to load money from this account)\n` +
      `Load money into your NetPay account with:\n` +
      `  NETPAY_BANK_TOKEN=${account.token} netpay wallet load AMOUNT --bank-account ${account.id}\n`,
  );
}

async function startBankCommand(flags: StartFlags): Promise<void> {
  const databaseUrl = databaseFromEnv(flags.data);
  await serveUntilStopped({
    context: { service: 'bank', host: flags.host, port: flags.port, data: flags.data, databaseUrl },
    json: flags.json,
    // Loaded here, not at the top, so `netpay --help` and other groups do not load the bank.
    start: async () => {
      const { startBank } = await import('@netpay/bank');
      const { currency } = await import('@netpay/protocol');
      return startBank({
        port: flags.port,
        host: flags.host,
        ...(flags.data !== undefined ? { dataDir: flags.data } : {}),
        ...(databaseUrl !== undefined ? { databaseUrl } : {}),
        dev: flags.dev,
        currency: currency(flags.currency, flags.exponent),
        // Warnings and errors as pino JSON on stderr; stdout carries only what this command prints.
        logger: { level: 'warn', stream: process.stderr } as { level: string },
      });
    },
    announce: (running) => {
      const { kind, dataDir } = running.database;
      const where =
        kind === 'postgres' ? `PostgreSQL at ${redactUrl(databaseUrl ?? '')}` : `PGlite in ${dataDir}`;
      return {
        json: {
          url: running.url,
          database: kind,
          ...(dataDir ? { dataDir } : {}),
          currency: { code: flags.currency, exponent: flags.exponent },
          dev: flags.dev,
          pid: process.pid,
        },
        text:
          `NetPay bank listening on ${running.url}\n` +
          `  database  ${where}\n` +
          `  currency  ${flags.currency}, ${flags.exponent} decimal places\n` +
          `  dev mode  ${flags.dev ? 'on: accounts may be opened with an initial balance' : 'off'}\n` +
          `  API docs  ${running.url}/docs\n` +
          'Stop with Ctrl-C.\n',
      };
    },
    closed: 'bank stopped\n',
  });
}
