/** `netpay fetch <url>`: a GET that pays a NetPay vendor from the wallet (coins, or the server-side wallet). */
import { createWriteStream } from 'node:fs';
import type { PaidInfo } from '@netpay/wallet';
import type { Command } from 'commander';
import pc from 'picocolors';
import { AmountSchema, UrlSchema, zodArg } from '../../options.ts';
import { type CommonFlags, common, type Out, type WalletMoney, withWallet } from './session.ts';

interface FetchFlags extends CommonFlags {
  maxPrice: string;
  output?: string;
  serverWallet?: boolean;
}

export function fetchCommand(program: Command): void {
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
    .action((url: string, f: FetchFlags) =>
      withWallet(f, async (w, out, money) => {
        const { createPayFetch } = await import('@netpay/wallet');
        const payFetch = createPayFetch(w, {
          policy: { maxPerRequest: await money.parse(f.maxPrice) },
          fetch: faultyFetch,
          serverWallet: f.serverWallet ?? false,
        });
        const res = await payFetch(url);
        const body = Buffer.from(await res.arrayBuffer());
        if (!f.json) {
          if (f.output)
            await new Promise<void>((r, j) => createWriteStream(f.output!).on('error', j).end(body, r));
          else process.stdout.write(body);
        }
        await report(url, res, body, f, out, money);
        if (res.status >= 400) process.exitCode = 1;
      }),
    );
}

/** Fault injection for the crash-safety test: die after the payment is written down, before it leaves. */
const faultyFetch: typeof fetch = async (input, init) => {
  if (process.env.NETPAY_FAULT === 'exit-before-send' && new Headers(init?.headers).has('netpay-payment'))
    process.exit(75);
  return fetch(input, init);
};

/** What was fetched and paid: one JSON line with --json (with the body unless -o), else a line on stderr. */
async function report(
  url: string,
  res: Response & { netpay?: PaidInfo },
  body: Buffer,
  f: FetchFlags,
  out: Out,
  money: WalletMoney,
) {
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
}
