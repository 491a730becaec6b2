/**
 * `netpay broker …`: the broker's commands, one module per job: start (start.ts), invite (invite.ts),
 * settle and audit on its database (offline.ts), over the config the commands build (config.ts).
 */
import type { Command } from 'commander';
import { DirSchema, HostSchema, PortSchema, UrlSchema, zodArg } from '../../options.ts';
import type { CommonFlags } from './config.ts';
import { ExpiresArg, type InviteFlags, invite, KindArg, PartyIdArg } from './invite.ts';
import { offline } from './offline.ts';
import { type StartFlags, startBroker } from './start.ts';

export const DEFAULT_BROKER_PORT = 4200;

export function registerBrokerCommands(program: Command): void {
  const broker = program
    .command('broker')
    .description('the broker: sells coins, keeps the chain directory, redeems, settles and refunds')
    .addHelpText(
      'after',
      '\nExample:\n  $ netpay broker start --bank http://127.0.0.1:4100 --config broker.json',
    );
  addStartCommand(broker);
  addSettleCommand(broker);
  addInviteCommand(broker);
  addAuditCommand(broker);
}

/** The flags of the commands that open the broker's database: data folder, config, bank, --json. */
function withCommonFlags(c: Command): Command {
  return c
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
}

function addStartCommand(broker: Command): void {
  withCommonFlags(
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
}

function addSettleCommand(broker: Command): void {
  withCommonFlags(
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
}

/** Talks to a running broker, so it takes none of the database flags. */
function addInviteCommand(broker: Command): void {
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
}

function addAuditCommand(broker: Command): void {
  withCommonFlags(broker.command('audit').description("check the ledger's invariants and print its totals"))
    .addHelpText('after', '\nExample:\n  $ netpay broker audit --json')
    .action((flags: CommonFlags) => offline(flags, 'audit'));
}
