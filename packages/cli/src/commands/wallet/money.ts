/** `netpay wallet load | send | refund`: money between the bank, the broker balance, other users and coins. */
import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import pc from 'picocolors';
import { cliError } from '../../errors.ts';
import { AmountSchema, zodArg } from '../../options.ts';
import { type CommonFlags, common, EXAMPLES, withWallet } from './session.ts';

const KEY_HELP =
  'idempotency key, 8–128 printable characters: the same command with the same key moves the money at most once (default: a fresh key, printed when the outcome is unknown)';

/** The Idempotency-Key of a money movement: the one given with --key (checked by the API's schema), or a fresh one. */
async function movementKey(given: string | undefined): Promise<string> {
  if (given === undefined) return randomUUID();
  const { IdempotencyKeySchema } = await import('@netpay/api');
  const checked = IdempotencyKeySchema.safeParse(given);
  if (!checked.success) throw cliError(`--key ${checked.error.issues[0]?.message ?? 'is not valid'}`);
  return checked.data;
}

/**
 * Runs a keyed movement. When its outcome stays unknown (the broker did not answer, even after the wallet's
 * own retries), the error keeps its code and says how to finish it: the same command with the same key.
 */
async function keyed<T>(key: string, move: (key: string) => Promise<T>): Promise<T> {
  try {
    return await move(key);
  } catch (e) {
    const [{ outcomeUnknown }, { NetPayError }] = await Promise.all([
      import('@netpay/wallet'),
      import('@netpay/protocol'),
    ]);
    if (!(e instanceof NetPayError) || !outcomeUnknown(e)) throw e;
    const message = `${e.message}; whether the money moved is not known: run the same command again with --key ${key} (it moves the money at most once)`;
    throw new NetPayError(e.code, message, { details: { ...e.details, key } });
  }
}

export function loadCommand(wallet: Command): void {
  common(wallet.command('load').description('move money from your bank account to the broker'))
    .argument('<amount>', 'amount in major units, e.g. 20.00', zodArg(AmountSchema))
    .requiredOption('--bank-account <id>', 'your bank account id')
    .option('--bank-token <token>', 'the bank account token (or NETPAY_BANK_TOKEN)')
    .option('--key <key>', KEY_HELP)
    .addHelpText(
      'after',
      `\nExample:\n  $ NETPAY_BANK_TOKEN=… netpay wallet load 20.00 --bank-account acc_123\n${EXAMPLES}`,
    )
    .action((amount: string, f: CommonFlags & { bankAccount: string; bankToken?: string; key?: string }) =>
      withWallet(f, async (w, out, money) => {
        const token = f.bankToken ?? process.env.NETPAY_BANK_TOKEN;
        if (!token) throw cliError('give the bank token with --bank-token or NETPAY_BANK_TOKEN');
        const minor = await money.parse(amount);
        const bank = { account: f.bankAccount, token };
        const r = await keyed(await movementKey(f.key), (key) => w.load(minor, bank, { key }));
        out(
          { loaded: await money.wire(r.amount), balance: await money.wire(r.balance) },
          `Loaded ${pc.bold(await money.show(r.amount))}; at the broker: ${await money.show(r.balance)}`,
        );
      }),
    );
}

export function refundCommand(wallet: Command): void {
  common(
    wallet
      .command('refund')
      .description('hand unspent coins back (to the broker balance, or on to the bank)'),
  )
    .option('--chain <id...>', 'only these chains')
    .option('--to-bank <account>', 'then unload the refunded amount to this bank account')
    .addHelpText('after', '\nExamples:\n  $ netpay wallet refund\n  $ netpay wallet refund --to-bank acc_123')
    .action((f: CommonFlags & { chain?: string[]; toBank?: string }) =>
      withWallet(f, async (w, out, money) => {
        const r = await w.refund(f.chain);
        const unloaded = f.toBank && r.amount > 0n ? (await w.unload(r.amount, f.toBank)).amount : 0n;
        out(
          { chains: r.chains, refunded: await money.wire(r.amount), unloaded: await money.wire(unloaded) },
          `Refunded ${r.chains.length} chain(s): ${pc.bold(await money.show(r.amount))}${unloaded > 0n ? `, sent to bank account ${f.toBank}` : ' to your broker balance'}`,
        );
      }),
    );
}

export function sendCommand(wallet: Command): void {
  common(wallet.command('send').description('send money to another registered user'))
    .argument('<to>', 'their login')
    .argument('<amount>', 'amount in major units', zodArg(AmountSchema))
    .option('--key <key>', KEY_HELP)
    .addHelpText('after', '\nExample:\n  $ netpay wallet send friend@example.com 1.50')
    .action((to: string, amount: string, f: CommonFlags & { key?: string }) =>
      withWallet(f, async (w, out, money) => {
        const minor = await money.parse(amount);
        const r = await keyed(await movementKey(f.key), (key) => w.send(to, minor, { key }));
        out(
          { to: r.to, amount: await money.wire(r.amount), balance: await money.wire(r.balance) },
          `Sent ${pc.bold(await money.show(r.amount))} to ${r.to}; left at the broker: ${await money.show(r.balance)}`,
        );
      }),
    );
}
