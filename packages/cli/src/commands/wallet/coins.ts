/** `netpay wallet buy | balance | history`: the coins the wallet makes and holds, and what it paid with them. */
import type { Command } from 'commander';
import pc from 'picocolors';
import { AmountSchema, zodArg } from '../../options.ts';
import { type CommonFlags, CountArg, common, withWallet } from './session.ts';

export function buyCommand(wallet: Command): void {
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
}

export function balanceCommand(wallet: Command): void {
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
}

export function historyCommand(wallet: Command): void {
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
