/** `netpay vendor …`: start a vendor that sells a folder at a price list's prices, or redeem a stopped one. */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { z } from 'zod';
import { cliError } from '../errors.ts';
import { databaseFromEnv, serveUntilStopped } from '../lifecycle.ts';
import { DirSchema, HostSchema, PortSchema, UrlSchema, zodArg } from '../options.ts';

export const DEFAULT_VENDOR_PORT = 4300;

interface CommonFlags {
  prices: string;
  broker: string;
  data?: string;
  json?: boolean;
}

interface StartFlags extends CommonFlags {
  folder: string;
  port: number;
  host: string;
  publicUrl?: string;
  bankAccount?: string;
  invite?: string;
  redeemEvery: number;
}

const SecondsArg = z
  .string()
  .regex(/^\d{1,7}$/, 'must be a whole number of seconds')
  .transform(Number)
  .pipe(z.number().max(86_400 * 24, 'must be at most 24 days (2073600 seconds)'));

/** The price list file, checked by the vendor's schema, with a message that says which field is wrong. */
async function loadPrices(file: string) {
  const { PriceListSchema } = await import('@netpay/vendor/server');
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw cliError(`cannot read the price list ${file}: ${(e as Error).message}`);
  }
  const parsed = PriceListSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw cliError(`price list ${file}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return parsed.data;
}

export function registerVendorCommands(program: Command): void {
  const vendor = program
    .command('vendor')
    .description('sell files for NetPay coins, with no code: a folder, a price list and a broker')
    .addHelpText(
      'after',
      '\nExample:\n  $ netpay vendor start --folder ./public --prices prices.json --broker http://127.0.0.1:4200',
    );
  addStartCommand(vendor);
  addRedeemCommand(vendor);
}

/** The flags every vendor command takes: the price list, the broker, the data folder, --json. */
function withCommonFlags(c: Command): Command {
  return c
    .requiredOption(
      '--prices <file>',
      'price list JSON: {"vendorId", "prices": {"*.pdf": "50", "music/**": "10"}, "default"?}',
    )
    .requiredOption('--broker <url>', 'URL of the broker', zodArg(UrlSchema))
    .option(
      '-d, --data <dir>',
      'folder for the vendor key and, without DATABASE_URL, its embedded database (default ./.netpay/vendor)',
      zodArg(DirSchema),
    )
    .option('--json', 'print one JSON line instead of text');
}

function addStartCommand(vendor: Command): void {
  withCommonFlags(
    vendor
      .command('start')
      .description('serve a folder, selling each file at its price until Ctrl-C')
      .requiredOption('--folder <dir>', 'the files to sell', zodArg(DirSchema))
      .option(
        '-p, --port <n>',
        'port to listen on; 0 picks a free one',
        zodArg(PortSchema),
        DEFAULT_VENDOR_PORT,
      )
      .option('-H, --host <host>', 'address to listen on', zodArg(HostSchema), '127.0.0.1')
      .option(
        '--public-url <url>',
        'URL other vendors reach this one at for hand-overs (default: the listening URL)',
        zodArg(UrlSchema),
      )
      .option('--bank-account <id>', 'bank account the broker pays this vendor out to')
      .option(
        '--invite <token>',
        "the operator's invitation (netpay broker invite), needed on the first start at a broker without open registration; also NETPAY_INVITE",
      )
      .option(
        '--redeem-every <seconds>',
        'redeem accepted coins this often (0: only with `netpay vendor redeem`)',
        zodArg(SecondsArg),
        60,
      ),
  )
    .addHelpText(
      'after',
      `
Example:
  $ echo '{"vendorId":"my-shop","prices":{"*.pdf":"50"}}' > prices.json
  $ netpay vendor start --folder ./public --prices prices.json --broker http://127.0.0.1:4200`,
    )
    .action((flags: StartFlags) => start(flags));
}

function addRedeemCommand(vendor: Command): void {
  withCommonFlags(
    vendor
      .command('redeem')
      .description('redeem every accepted, unredeemed coin now and print the statement'),
  )
    .addHelpText(
      'after',
      `
With the embedded database, run this while the vendor is stopped (one process owns a PGlite folder).

Example:
  $ netpay vendor redeem --prices prices.json --broker http://127.0.0.1:4200 --json`,
    )
    .action((flags: CommonFlags) => redeem(flags));
}

async function start(flags: StartFlags): Promise<void> {
  const databaseUrl = databaseFromEnv(undefined);
  const prices = await loadPrices(flags.prices);
  const invitation = flags.invite ?? process.env.NETPAY_INVITE?.trim();
  await serveUntilStopped({
    context: { service: 'vendor', host: flags.host, port: flags.port, data: flags.data, databaseUrl },
    json: flags.json,
    start: async (signal) => {
      const { startVendorServer } = await import('@netpay/vendor/server');
      return startVendorServer({
        signal,
        // Warnings (each wait for a broker not up yet) on stderr.
        logger: { level: 'warn', stream: process.stderr } as { level: string },
        port: flags.port,
        host: flags.host,
        folder: flags.folder,
        prices,
        brokerUrl: flags.broker,
        ...(flags.data !== undefined ? { dataDir: flags.data } : {}),
        ...(databaseUrl !== undefined ? { databaseUrl } : {}),
        ...(flags.publicUrl ? { publicUrl: flags.publicUrl } : {}),
        ...(flags.bankAccount ? { bankAccount: flags.bankAccount } : {}),
        ...(invitation ? { invitation } : {}),
        redeemEveryMs: flags.redeemEvery * 1000,
      });
    },
    announce: (running) => ({
      json: { url: running.url, vendorId: running.vendorId, publicKey: running.publicKey, pid: process.pid },
      text:
        `NetPay vendor ${running.vendorId} selling ${flags.folder} on ${running.url}\n` +
        `  broker     ${flags.broker}\n  statement  ${running.url}/netpay/statement\nStop with Ctrl-C.\n`,
    }),
  });
}

async function redeem(flags: CommonFlags): Promise<void> {
  const databaseUrl = databaseFromEnv(undefined);
  const prices = await loadPrices(flags.prices);
  const { openVendor } = await import('@netpay/vendor/server');
  const v = await openVendor({
    vendorId: prices.vendorId,
    brokerUrl: flags.broker,
    currency: prices.currency,
    ...(flags.data !== undefined ? { dataDir: flags.data } : {}),
    ...(databaseUrl !== undefined ? { databaseUrl } : {}),
  });
  try {
    const result = await v.redeemer.redeem().catch((e: unknown) => {
      throw cliError(`redemption failed: ${(e as Error).message} (nothing was lost; run it again)`);
    });
    const statement = await v.redeemer.statement();
    if (flags.json)
      process.stdout.write(
        `${JSON.stringify({ vendorId: prices.vendorId, redemption: result, statement })}\n`,
      );
    else {
      process.stdout.write(
        `redeemed ${result.credited} of ${result.claims} ranges for ${result.amount} minor units` +
          `${result.rejected > 0 ? ` (${result.rejected} refused: ${JSON.stringify(result.codes)})` : ''}\n` +
          `accepted ${statement.accepted}, redeemed ${statement.redeemed} over ${statement.chains} chains\n` +
          (statement.broker
            ? `at the broker: balance ${statement.broker.balance}, paid out ${statement.broker.paidOut}, payouts pending ${statement.broker.payoutsPending}\n`
            : 'the broker could not be reached for the balance and payouts\n'),
      );
    }
  } finally {
    await v.store.close(); // its journal, if any, emptied into SQL first
    await v.db.close();
  }
}
