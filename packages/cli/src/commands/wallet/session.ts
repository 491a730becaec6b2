/**
 * What every wallet command shares: its flags (`--wallet`, `--broker`, `--json`), and `withWallet`, which
 * opens the wallet for one command, finishes what a crash left, gives the command its money helpers in the
 * wallet's currency and turns wallet errors into one-line messages.
 */
import type { Wallet } from '@netpay/wallet';
import type { Command } from 'commander';
import pc from 'picocolors';
import { z } from 'zod';
import { cliError } from '../../errors.ts';
import { DirSchema, UrlSchema, zodArg } from '../../options.ts';

export interface CommonFlags {
  wallet?: string;
  broker?: string;
  json?: boolean;
}

/** A whole number of at least 1 (coins, chains, history rows). */
export const CountArg = z
  .string()
  .regex(/^\d{1,8}$/, 'must be a whole number')
  .transform(Number)
  .pipe(z.number().min(1, 'must be at least 1'));

/** A wallet command's shared flags; `--broker` is needed only the first time. */
export const common = (c: Command) =>
  c
    .option(
      '-w, --wallet <dir>',
      'wallet folder (default ~/.netpay/wallet, or NETPAY_WALLET)',
      zodArg(DirSchema),
    )
    .option('-b, --broker <url>', 'broker URL (needed when the wallet is new)', zodArg(UrlSchema))
    .option('--json', 'print one JSON line (amounts as minor-unit strings with a formatted value)');

export const EXAMPLES = `
Environment:
  NETPAY_PASSWORD            the account password (otherwise asked for)
  NETPAY_WALLET_PASSPHRASE   encrypts the wallet file (give it every time once set)
  NETPAY_BANK_TOKEN          the bank account's token for loads`;

/** Prints a command's answer: one JSON line with --json, else its text (if any). */
export type Out = (json: unknown, text: string) => void;

/**
 * Amounts in the wallet's currency. Amounts on the command line are in major units, as people write them:
 * 5, 5.00, 0.0010.
 */
export interface WalletMoney {
  parse(a: string): Promise<bigint>;
  wire(m: bigint): Promise<{ minor: string; formatted: string }>;
  show(m: bigint): Promise<string>;
}

/**
 * Opens the wallet for one command, finishes what a crash left (purchases, payments in flight), runs the
 * command and turns wallet errors into one-line messages.
 */
export async function withWallet(
  f: CommonFlags,
  fn: (w: Wallet, out: Out, money: WalletMoney) => Promise<void>,
): Promise<void> {
  const { NetPayError } = await import('@netpay/protocol');
  try {
    const w = await openForCommand(f);
    const out: Out = (json, text) => {
      if (f.json) process.stdout.write(`${JSON.stringify(json)}\n`);
      else if (text) process.stdout.write(`${text}\n`);
    };
    await fn(w, out, await walletMoney(w));
  } catch (e) {
    if (e instanceof NetPayError) {
      if (f.json)
        process.stdout.write(`${JSON.stringify({ error: { code: e.code, message: e.message } })}\n`);
      throw cliError(e.message);
    }
    throw e;
  }
}

/** The wallet of `--wallet` (or the default), with purchases and payments an earlier run left finished. */
async function openForCommand(f: CommonFlags): Promise<Wallet> {
  const { openWallet, recoverPayments } = await import('@netpay/wallet');
  const { fileStorage, defaultWalletDir } = await import('@netpay/wallet/node');
  const dir = f.wallet ?? defaultWalletDir();
  const passphrase = process.env.NETPAY_WALLET_PASSPHRASE;
  const w = await openWallet({
    storage: fileStorage(dir, passphrase ? { passphrase } : {}),
    ...(f.broker ? { brokerUrl: f.broker } : {}),
  });
  if (!w.sessionToken) return w;
  if (w.chains().some((c) => c.status === 'pending')) await w.resume();
  if (w.unsettled().length > 0) {
    const r = await recoverPayments(w);
    if (!f.json && r.resent > 0)
      process.stderr.write(
        pc.dim(`settled ${r.accepted + r.refused + r.spent} payment(s) left in flight by an earlier run\n`),
      );
  }
  return w;
}

/** The money helpers in the wallet's currency (asked of the broker when first needed). */
async function walletMoney(w: Wallet): Promise<WalletMoney> {
  const { currency, formatAmount, money, parseAmount } = await import('@netpay/protocol');
  const cur = async () => {
    const c = await w.currency();
    return currency(c.code, c.exponent);
  };
  return {
    async parse(a) {
      const r = parseAmount(a, await cur());
      if (!r.ok) throw cliError(`${a}: ${r.error.message}`);
      return r.value.minor as bigint;
    },
    async wire(m) {
      return { minor: m.toString(), formatted: formatAmount(money(m, await cur())) };
    },
    async show(m) {
      const c = await cur();
      return `${formatAmount(money(m, c))} ${c.code}`;
    },
  };
}
