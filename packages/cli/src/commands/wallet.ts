import { createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import type { Command } from 'commander';
import pc from 'picocolors';
import { z } from 'zod';
import { cliError } from '../errors.ts';
import { AmountSchema, DirSchema, UrlSchema, zodArg } from '../options.ts';

/** Amounts on the command line are in major units, as people write them: 5, 5.00, 0.0010. */
const CodeArg = z.string().regex(/^\d{6}$/, 'the code is 6 digits');
const CountArg = z
  .string()
  .regex(/^\d{1,8}$/, 'must be a whole number')
  .transform(Number)
  .pipe(z.number().min(1, 'must be at least 1'));

interface CommonFlags {
  wallet?: string;
  broker?: string;
  json?: boolean;
}

/** A wallet command's shared flags; `--broker` is needed only the first time. */
const common = (c: Command) =>
  c
    .option(
      '-w, --wallet <dir>',
      'wallet folder (default ~/.netpay/wallet, or NETPAY_WALLET)',
      zodArg(DirSchema),
    )
    .option('-b, --broker <url>', 'broker URL (needed when the wallet is new)', zodArg(UrlSchema))
    .option('--json', 'print one JSON line (amounts as minor-unit strings with a formatted value)');

const EXAMPLES = `
Environment:
  NETPAY_PASSWORD            the account password (otherwise asked for)
  NETPAY_WALLET_PASSPHRASE   encrypts the wallet file (give it every time once set)
  NETPAY_BANK_TOKEN          the bank account's token for loads`;

export function registerWalletCommands(program: Command): void {
  const wallet = program
    .command('wallet')
    .description('the customer wallet: account, coins, balance, history, refunds')
    .addHelpText(
      'after',
      `
Getting started:
  $ netpay wallet register --login me@example.com --broker http://127.0.0.1:4200
  $ netpay wallet verify 123456
  $ NETPAY_BANK_TOKEN=… netpay wallet load 20.00 --bank-account acc_…
  $ netpay wallet buy --coin-value 0.0010 --coins 1000
  $ netpay fetch http://127.0.0.1:4300/paper.pdf --max-price 0.05 > paper.pdf`,
    );

  common(wallet.command('register').description('open an account at the broker; a code is sent to the login'))
    .requiredOption('--login <login>', 'e-mail address or phone number (+…)')
    .addHelpText(
      'after',
      `\nExample:\n  $ netpay wallet register --login me@example.com --broker http://127.0.0.1:4200\n${EXAMPLES}`,
    )
    .action((f: CommonFlags & { login: string }) =>
      withWallet(f, async (w, out) => {
        const r = await w.register({ login: f.login, password: await password() });
        out(
          { customerId: r.customerId, codeSentTo: r.codeSentTo },
          `Registered ${pc.bold(f.login)}. A 6-digit code was sent there: ${pc.cyan('netpay wallet verify <code>')}`,
        );
      }),
    );

  common(wallet.command('verify').description('enter the code sent at register or sign-in on a new device'))
    .argument('<code>', 'the 6-digit code', zodArg(CodeArg))
    .addHelpText('after', '\nExample:\n  $ netpay wallet verify 123456')
    .action((code: string, f: CommonFlags) =>
      withWallet(f, async (w, out) => {
        const r = await w.verify(code);
        out({ customerId: r.customerId, signedIn: true }, `${pc.green('Verified.')} You are signed in.`);
      }),
    );

  common(wallet.command('login').description('sign in (a new device also needs `verify`)'))
    .requiredOption('--login <login>', 'e-mail address or phone number')
    .option('--totp <code>', 'authenticator code, if you set one up', zodArg(CodeArg))
    .addHelpText('after', `\nExample:\n  $ netpay wallet login --login me@example.com\n${EXAMPLES}`)
    .action((f: CommonFlags & { login: string; totp?: string }) =>
      withWallet(f, async (w, out) => {
        const r = await w.login({
          login: f.login,
          password: await password(),
          ...(f.totp ? { totp: f.totp } : {}),
        });
        out(
          { signedIn: !r.verificationRequired, verificationRequired: r.verificationRequired },
          r.verificationRequired
            ? `New device: a code was sent to ${f.login}; run ${pc.cyan('netpay wallet verify <code>')}`
            : `${pc.green('Signed in')} as ${f.login}.`,
        );
      }),
    );

  common(wallet.command('load').description('move money from your bank account to the broker'))
    .argument('<amount>', 'amount in major units, e.g. 20.00', zodArg(AmountSchema))
    .requiredOption('--bank-account <id>', 'your bank account id')
    .option('--bank-token <token>', 'the bank account token (or NETPAY_BANK_TOKEN)')
    .addHelpText(
      'after',
      `\nExample:\n  $ NETPAY_BANK_TOKEN=… netpay wallet load 20.00 --bank-account acc_123\n${EXAMPLES}`,
    )
    .action((amount: string, f: CommonFlags & { bankAccount: string; bankToken?: string }) =>
      withWallet(f, async (w, out, money) => {
        const token = f.bankToken ?? process.env.NETPAY_BANK_TOKEN;
        if (!token) throw cliError('give the bank token with --bank-token or NETPAY_BANK_TOKEN');
        const r = await w.load(await money.parse(amount), { account: f.bankAccount, token });
        out(
          { loaded: await money.wire(r.amount), balance: await money.wire(r.balance) },
          `Loaded ${pc.bold(await money.show(r.amount))}; at the broker: ${await money.show(r.balance)}`,
        );
      }),
    );

  common(
    wallet.command('buy').description('buy a chain of coins (the wallet makes it; the broker sees its root)'),
  )
    .requiredOption(
      '--coin-value <amount>',
      'value of one coin, e.g. 0.0010 (one of the broker denominations)',
      zodArg(AmountSchema),
    )
    .requiredOption('--coins <n>', 'coins in the chain', zodArg(CountArg))
    .option('--chains <n>', 'how many such chains', zodArg(CountArg), 1)
    .addHelpText('after', '\nExample:\n  $ netpay wallet buy --coin-value 0.0010 --coins 1000 --chains 2')
    .action((f: CommonFlags & { coinValue: string; coins: number; chains: number }) =>
      withWallet(f, async (w, out, money) => {
        const coinValue = await money.parse(f.coinValue);
        const bar = await progress(f.json, f.coins * f.chains);
        const r = await w.buy([{ coinValue, n: f.coins, count: f.chains }], (done) => bar.update(done));
        bar.stop();
        out(
          { chains: r.chains, total: await money.wire(r.total), balance: await money.wire(r.balance) },
          `Bought ${r.chains.length} chain(s) of ${f.coins} coins worth ${await money.show(coinValue)} for ${pc.bold(await money.show(r.total))}; left at the broker: ${await money.show(r.balance)}`,
        );
      }),
    );

  common(wallet.command('balance').description('coins by denomination, and the money at the broker'))
    .addHelpText('after', '\nExample:\n  $ netpay wallet balance --json')
    .action((f: CommonFlags) =>
      withWallet(f, async (w, out, money) => {
        const b = await w.balance();
        const rows = [];
        for (const d of b.denominations)
          rows.push({
            coinValue: await money.wire(d.coinValue),
            coins: d.coins,
            chains: d.chains,
            value: await money.wire(d.value),
          });
        const text = [
          `${pc.bold('Coins')}      ${await money.show(b.coins)}`,
          ...(await Promise.all(
            b.denominations.map(
              async (d) => `  ${d.coins} × ${await money.show(d.coinValue)} = ${await money.show(d.value)}`,
            ),
          )),
          `${pc.bold('At broker')}  ${b.atBroker === null ? pc.dim('(not signed in)') : await money.show(b.atBroker)}`,
        ].join('\n');
        out(
          {
            coins: await money.wire(b.coins),
            atBroker: b.atBroker === null ? null : await money.wire(b.atBroker),
            denominations: rows,
          },
          text,
        );
      }),
    );

  common(wallet.command('history').description('payments with their receipts, newest first'))
    .option('--limit <n>', 'how many', zodArg(CountArg), 20)
    .addHelpText('after', '\nExample:\n  $ netpay wallet history --limit 5')
    .action((f: CommonFlags & { limit: number }) =>
      withWallet(f, async (w, out, money) => {
        const items = w.history().reverse().slice(0, f.limit);
        const json = [];
        const lines = [];
        for (const h of items) {
          json.push({ ...h, amount: await money.wire(BigInt(h.amount)), undo: undefined, header: undefined });
          const mark =
            h.status === 'accepted' ? pc.green('✓') : h.status === 'refused' ? pc.red('✗') : pc.yellow('…');
          lines.push(
            `${mark} ${h.at.slice(0, 19).replace('T', ' ')}  ${(await money.show(BigInt(h.amount))).padStart(10)}  ${h.vendorId}  ${h.resource}${h.code ? pc.red(` (${h.code})`) : ''}`,
          );
        }
        out({ payments: json }, lines.length > 0 ? lines.join('\n') : pc.dim('No payments yet.'));
      }),
    );

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

  common(wallet.command('send').description('send money to another registered user'))
    .argument('<to>', 'their login')
    .argument('<amount>', 'amount in major units', zodArg(AmountSchema))
    .addHelpText('after', '\nExample:\n  $ netpay wallet send friend@example.com 1.50')
    .action((to: string, amount: string, f: CommonFlags) =>
      withWallet(f, async (w, out, money) => {
        const r = await w.send(to, await money.parse(amount));
        out(
          { to: r.to, amount: await money.wire(r.amount), balance: await money.wire(r.balance) },
          `Sent ${pc.bold(await money.show(r.amount))} to ${r.to}; left at the broker: ${await money.show(r.balance)}`,
        );
      }),
    );

  common(program.command('fetch').description('GET a URL, paying a NetPay vendor from the wallet if it asks'))
    .argument('<url>', 'what to fetch', zodArg(UrlSchema))
    .option(
      '--max-price <amount>',
      'pay at most this per request (major units); default 0: pay nothing',
      zodArg(AmountSchema),
      '0',
    )
    .option('-o, --output <file>', 'write the body here instead of standard output')
    .option('--server-wallet', 'pay from the server-side wallet at the broker instead of coins')
    .addHelpText(
      'after',
      '\nExamples:\n  $ netpay fetch http://127.0.0.1:4300/paper.pdf --max-price 0.05 -o paper.pdf\n  $ netpay fetch http://127.0.0.1:4300/song.mp3 --max-price 0.01 --json',
    )
    .action((url: string, f: CommonFlags & { maxPrice: string; output?: string; serverWallet?: boolean }) =>
      withWallet(f, async (w, out, money) => {
        const { createPayFetch } = await import('@netpay/wallet');
        const maxPerRequest = await money.parse(f.maxPrice);
        // Fault injection for the crash-safety test: die after the payment is written down, before it leaves.
        const base: typeof fetch = async (input, init) => {
          if (
            process.env.NETPAY_FAULT === 'exit-before-send' &&
            new Headers(init?.headers).has('netpay-payment')
          )
            process.exit(75);
          return fetch(input, init);
        };
        const payFetch = createPayFetch(w, {
          policy: { maxPerRequest },
          fetch: base,
          serverWallet: f.serverWallet ?? false,
        });
        const res = await payFetch(url);
        const body = Buffer.from(await res.arrayBuffer());
        if (!f.json) {
          if (f.output)
            await new Promise<void>((r, j) => createWriteStream(f.output!).on('error', j).end(body, r));
          else process.stdout.write(body);
        }
        const paid = res.netpay?.paid ?? 0n;
        if (f.json) {
          out(
            {
              url,
              status: res.status,
              paid: await money.wire(paid),
              vendorId: res.netpay?.vendorId ?? null,
              receipt: res.netpay?.receipt ?? null,
              bytes: body.length,
              ...(f.output ? { output: f.output } : { body: body.toString('utf8') }),
            },
            '',
          );
        } else {
          process.stderr.write(
            `${res.status >= 400 ? pc.red(String(res.status)) : pc.green(String(res.status))} ${url}${paid > 0n ? ` — paid ${pc.bold(await money.show(paid))} to ${res.netpay?.vendorId}` : ''}\n`,
          );
        }
        if (res.status >= 400) process.exitCode = 1;
      }),
    );
}

/** Reads the password from NETPAY_PASSWORD, or asks for it without echo on a terminal. */
async function password(): Promise<string> {
  const env = process.env.NETPAY_PASSWORD;
  if (env) return env;
  if (!process.stdin.isTTY) throw cliError('set NETPAY_PASSWORD (no terminal to ask on)');
  let muted = false;
  const output = new Writable({
    write(chunk, _enc, done) {
      if (!muted) process.stderr.write(chunk);
      done();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  const answer = new Promise<string>((resolve) => rl.question('Password: ', resolve));
  muted = true;
  const text = await answer;
  rl.close();
  process.stderr.write('\n');
  return text;
}

async function progress(json: boolean | undefined, total: number) {
  // Only for something that takes a while, and only for people (not --json, not pipes).
  if (json || total < 200_000 || !process.stderr.isTTY) return { update: (_: number) => {}, stop: () => {} };
  const { SingleBar, Presets } = await import('cli-progress');
  const bar = new SingleBar(
    { format: 'making coins [{bar}] {percentage}% {value}/{total}', stream: process.stderr },
    Presets.shades_classic,
  );
  bar.start(total, 0);
  return { update: (done: number) => bar.update(done), stop: () => bar.stop() };
}

type Out = (json: unknown, text: string) => void;

/**
 * Opens the wallet for one command, finishes what a crash left (purchases, payments in flight), runs the
 * command and turns wallet errors into one-line messages.
 */
async function withWallet(
  f: CommonFlags,
  fn: (
    w: import('@netpay/wallet').Wallet,
    out: Out,
    money: {
      parse(a: string): Promise<bigint>;
      wire(m: bigint): Promise<{ minor: string; formatted: string }>;
      show(m: bigint): Promise<string>;
    },
  ) => Promise<void>,
): Promise<void> {
  const { openWallet, recoverPayments } = await import('@netpay/wallet');
  const { fileStorage, defaultWalletDir } = await import('@netpay/wallet/node');
  const { currency, formatAmount, money, NetPayError, parseAmount } = await import('@netpay/protocol');
  const dir = f.wallet ?? defaultWalletDir();
  const passphrase = process.env.NETPAY_WALLET_PASSPHRASE;
  try {
    const w = await openWallet({
      storage: fileStorage(dir, passphrase ? { passphrase } : {}),
      ...(f.broker ? { brokerUrl: f.broker } : {}),
    });
    if (w.sessionToken) {
      if (w.chains().some((c) => c.status === 'pending')) await w.resume();
      if (w.unsettled().length > 0) {
        const r = await recoverPayments(w);
        if (!f.json && r.resent > 0)
          process.stderr.write(
            pc.dim(`settled ${r.accepted + r.refused} payment(s) left in flight by an earlier run\n`),
          );
      }
    }
    const cur = async () => {
      const c = await w.currency();
      return currency(c.code, c.exponent);
    };
    const show = async (m: bigint) => {
      const c = await cur();
      return `${formatAmount(money(m, c))} ${c.code}`;
    };
    await fn(
      w,
      (json, text) => {
        if (f.json) process.stdout.write(`${JSON.stringify(json)}\n`);
        else if (text) process.stdout.write(`${text}\n`);
      },
      {
        async parse(a) {
          const r = parseAmount(a, await cur());
          if (!r.ok) throw cliError(`${a}: ${r.error.message}`);
          return r.value.minor as bigint;
        },
        async wire(m) {
          return { minor: m.toString(), formatted: formatAmount(money(m, await cur())) };
        },
        show,
      },
    );
  } catch (e) {
    if (e instanceof NetPayError) {
      if (f.json)
        process.stdout.write(`${JSON.stringify({ error: { code: e.code, message: e.message } })}\n`);
      throw cliError(e.message);
    }
    throw e;
  }
}
