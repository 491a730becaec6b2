import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { z } from 'zod';
import { cliError } from '../errors.ts';
import { databaseFromEnv, explainStartError, listenForStop } from '../lifecycle.ts';
import { DirSchema, HostSchema, PortSchema, redactUrl, UrlSchema, zodArg } from '../options.ts';

export const DEFAULT_BROKER_PORT = 4200;

interface CommonFlags {
  data?: string;
  config?: string;
  bank?: string;
  dev?: boolean;
  json?: boolean;
}

interface StartFlags extends CommonFlags {
  port: number;
  host: string;
}

interface InviteFlags {
  broker: string;
  kind: 'vendor' | 'peer';
  id?: string;
  expires: number;
  json?: boolean;
}

const KindArg = z.enum(['vendor', 'peer'], 'must be vendor or peer');
const PartyIdArg = z.string().regex(/^[\x21-\x7e]{1,128}$/, 'must be 1–128 printable ASCII characters');
const ExpiresArg = z
  .string()
  .regex(/^\d{2,7}$/, 'must be a whole number of seconds')
  .transform(Number)
  .pipe(
    z
      .number()
      .min(60)
      .max(90 * 86_400, 'must be 60 s to 90 days (7776000 seconds)'),
  );

/** The broker config file (JSON, checked by the broker's config schema) with flags laid over it. */
function loadConfig(flags: CommonFlags): Record<string, unknown> {
  let config: Record<string, unknown> = {};
  if (flags.config) {
    let text: string;
    try {
      text = readFileSync(flags.config, 'utf8');
    } catch (e) {
      throw cliError(`cannot read the config file ${flags.config}: ${(e as Error).message}`);
    }
    try {
      config = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw cliError(`the config file ${flags.config} is not valid JSON`);
    }
    if (typeof config !== 'object' || config === null || Array.isArray(config)) {
      throw cliError(`the config file ${flags.config} must hold a JSON object`);
    }
  }
  if (flags.dev) config = { ...config, dev: true };
  const admin = process.env.NETPAY_ADMIN_TOKEN?.trim();
  if (admin) config = { ...config, adminToken: admin };
  return config;
}

export function registerBrokerCommands(program: Command): void {
  const broker = program
    .command('broker')
    .description('the broker: sells coins, keeps the chain directory, redeems, settles and refunds')
    .addHelpText(
      'after',
      '\nExample:\n  $ netpay broker start --bank http://127.0.0.1:4100 --config broker.json',
    );

  const common = (c: Command) =>
    c
      .option(
        '-d, --data <dir>',
        'folder of the embedded database (default ./.netpay/broker)',
        zodArg(DirSchema),
      )
      .option(
        '-c, --config <file>',
        'broker config as JSON (see docs/broker.md): currency, denominations, limits, bank account…',
      )
      .option('--bank <url>', 'URL of the bank service the broker loads, unloads and pays out through')
      .option('--json', 'print one JSON line instead of text');

  common(
    broker
      .command('start')
      .description('run the broker until Ctrl-C (PGlite in a folder, or PostgreSQL when DATABASE_URL is set)')
      .option(
        '-p, --port <n>',
        'port to listen on; 0 picks a free one',
        zodArg(PortSchema),
        DEFAULT_BROKER_PORT,
      )
      .option('-H, --host <host>', 'address to listen on', zodArg(HostSchema), '127.0.0.1')
      .option(
        '--dev',
        'dev mode: device codes can be read at GET /dev/outbox (no SMS or e-mail provider is wired yet) and anyone may register a vendor',
      ),
  )
    .addHelpText(
      'after',
      `
Environment:
  DATABASE_URL        postgres://… keeps the broker on PostgreSQL instead of the embedded PGlite
  NETPAY_ADMIN_TOKEN  bearer token for /admin endpoints (audit, settlement, key rotation)

Examples:
  $ netpay broker start --dev --bank http://127.0.0.1:4100     (opens its own account at the dev bank)
  $ netpay broker start --bank https://bank.example --config broker.json
  $ netpay broker start --port 0 --json --data /tmp/broker`,
    )
    .action((flags: StartFlags) => startBroker(flags));

  common(
    broker
      .command('settle')
      .description('run one settlement batch: pay credited vendor balances out to their banks'),
  )
    .addHelpText(
      'after',
      `
With the embedded database, run this while the broker is stopped (one process owns a PGlite folder), or
call POST /admin/settlement/run on the running broker. With DATABASE_URL it is safe at any time.

Example:
  $ netpay broker settle --bank http://127.0.0.1:4100 --config broker.json`,
    )
    .action((flags: CommonFlags) => offline(flags, 'settle'));

  broker
    .command('invite')
    .description('make an invitation for a new vendor or peer to register at a running broker')
    .option('--broker <url>', 'URL of the running broker', zodArg(UrlSchema), 'http://127.0.0.1:4200')
    .option('--kind <kind>', 'vendor or peer', zodArg(KindArg), 'vendor')
    .option('--id <partyId>', 'only this vendor id may use it (default: any)', zodArg(PartyIdArg))
    .option('--expires <seconds>', 'valid for this long, 60 s to 90 days', zodArg(ExpiresArg), 7 * 86_400)
    .option('--json', 'print one JSON line {token, kind, partyId, expiresAt}')
    .addHelpText(
      'after',
      `
Needs NETPAY_ADMIN_TOKEN (the broker's adminToken). The token is shown once; the vendor uses it on its
first start: netpay vendor start … --invite TOKEN. A broker in --dev mode lets anyone register.

Example:
  $ NETPAY_ADMIN_TOKEN=… netpay broker invite --id my-shop`,
    )
    .action((flags: InviteFlags) => invite(flags));

  common(broker.command('audit').description("check the ledger's invariants and print its totals"))
    .addHelpText('after', '\nExample:\n  $ netpay broker audit --json')
    .action((flags: CommonFlags) => offline(flags, 'audit'));
}

/**
 * Dev convenience: with --dev and --bank but no bank account in the config, the broker opens its own
 * account at the (dev) bank on first start and keeps the credentials in its data folder for next time.
 */
async function devBankAccount(
  flags: StartFlags,
  config: Record<string, unknown>,
  databaseUrl: string | undefined,
) {
  if (!flags.dev || !flags.bank || config.bank !== undefined) return config;
  const { existsSync, mkdirSync, writeFileSync } = await import('node:fs');
  const { join, resolve } = await import('node:path');
  const dir = resolve(databaseUrl ? '.netpay' : (flags.data ?? '.netpay/broker'));
  const file = join(dir, 'dev-bank-account.json');
  if (existsSync(file)) return { ...config, bank: JSON.parse(readFileSync(file, 'utf8')) };
  const { createBankClient } = await import('@netpay/bank/client');
  const account = await createBankClient(flags.bank)
    .createAccount({ name: String(config.brokerId ?? 'broker') })
    .catch((e: unknown) => {
      throw cliError(`cannot open the broker's account at the bank ${flags.bank}: ${(e as Error).message}`);
    });
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, JSON.stringify({ account: account.id, token: account.token }), { mode: 0o600 });
  return { ...config, bank: { account: account.id, token: account.token } };
}

async function startBroker(flags: StartFlags): Promise<void> {
  const databaseUrl = databaseFromEnv(flags.data);
  const config = await devBankAccount(flags, loadConfig(flags), databaseUrl);
  const stop = listenForStop();
  try {
    const { startBroker: start } = await import('@netpay/broker');
    const running = await start({
      port: flags.port,
      host: flags.host,
      ...(flags.data !== undefined ? { dataDir: flags.data } : {}),
      ...(databaseUrl !== undefined ? { databaseUrl } : {}),
      ...(flags.bank ? { bankUrl: flags.bank } : {}),
      config,
      logger: { level: 'warn', stream: process.stderr } as { level: string },
    }).catch((e: unknown) => {
      throw explainStartError(e, {
        service: 'broker',
        host: flags.host,
        port: flags.port,
        data: flags.data,
        databaseUrl,
      });
    });
    const db = running.db.kind === 'postgres' ? `PostgreSQL at ${redactUrl(databaseUrl ?? '')}` : 'PGlite';
    if (stop.requested()) {
      // stopped while starting
    } else if (flags.json) {
      process.stdout.write(
        `${JSON.stringify({ url: running.url, database: running.db.kind, brokerId: running.broker.config.brokerId, pid: process.pid })}\n`,
      );
    } else {
      process.stdout.write(
        `NetPay broker ${running.broker.config.brokerId} listening on ${running.url}\n` +
          `  database  ${db}\n` +
          `  bank      ${flags.bank ?? 'none (loads, unloads and payouts answer 503)'}\n` +
          `  API docs  ${running.url}/docs\n` +
          'Stop with Ctrl-C.\n',
      );
    }
    const signal = await stop.signal;
    if (!flags.json) process.stderr.write(`${signal}: stopping the broker…\n`);
    await running.close();
  } finally {
    stop.dispose();
  }
}

/** POST /admin/invitations on the running broker (docs/broker.md §6.4). */
async function invite(flags: InviteFlags): Promise<void> {
  const token = process.env.NETPAY_ADMIN_TOKEN?.trim();
  if (!token) throw cliError("set NETPAY_ADMIN_TOKEN to the broker's admin token");
  const { brokerApi, createClient, unanswered } = await import('@netpay/api');
  const broker = createClient(brokerApi, { url: flags.broker, name: 'the broker', token: () => token });
  const answer = await broker
    .invite({
      body: { kind: flags.kind, expiresInSeconds: flags.expires, ...(flags.id ? { partyId: flags.id } : {}) },
    })
    .catch((e: Error) => {
      throw cliError(unanswered(e) ? e.message : `the broker refused: ${e.message}`);
    });
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(answer)}\n`);
    return;
  }
  const who = answer.partyId ? `the ${flags.kind} ${answer.partyId}` : `one ${flags.kind} (any id)`;
  process.stdout.write(
    `Invitation for ${who}, usable once until ${answer.expiresAt}:\n  ${answer.token}\n` +
      `Start the vendor with: netpay vendor start … --invite ${answer.token}\n`,
  );
}

async function offline(flags: CommonFlags, job: 'settle' | 'audit'): Promise<void> {
  const databaseUrl = databaseFromEnv(flags.data);
  const config = loadConfig(flags);
  const { openDatabase, migrate } = await import('@netpay/db');
  const { BROKER_MIGRATIONS, auditLedger, createBroker, httpBank, DEFAULT_BROKER_DATA_DIR } = await import(
    '@netpay/broker'
  );
  const { resolve } = await import('node:path');
  const db = await openDatabase(
    databaseUrl ? { url: databaseUrl } : { dataDir: resolve(flags.data ?? DEFAULT_BROKER_DATA_DIR) },
  );
  try {
    await migrate(db, BROKER_MIGRATIONS);
    if (job === 'audit') {
      const report = await auditLedger(db);
      if (flags.json) process.stdout.write(`${JSON.stringify(report)}\n`);
      else {
        process.stdout.write(
          `ledger ${report.ok ? 'balanced' : 'NOT BALANCED'}: ${report.accounts} accounts, ${report.transfers} transfers\n`,
        );
        for (const [kind, total] of Object.entries(report.totals))
          process.stdout.write(`  ${kind.padEnd(9)} ${total}\n`);
      }
      if (!report.ok) throw cliError('the ledger audit failed; see the report above');
      return;
    }
    if (!flags.bank) throw cliError('settle needs --bank <url> and a bank account in the config file');
    const broker = createBroker({ db, config, bank: httpBank(flags.bank) });
    const result = await broker.services.settlement.run();
    if (flags.json) process.stdout.write(`${JSON.stringify(result)}\n`);
    else {
      process.stdout.write(
        `settlement ${result.runId}: ${result.created} payouts created (total ${result.total}), ${result.sent} sent, ` +
          `${result.retrying} to retry, ${result.failed} refused\n`,
      );
    }
  } finally {
    await db.close();
  }
}
