/**
 * `netpay demo`: the whole system on this machine (bank, broker, two vendor sites and the web wallet, with
 * demo accounts) until Ctrl-C. start.ts starts the parts, accounts.ts makes the demo's secrets, payees and
 * customers on the first run; this module runs it and says what is running.
 */
import { mkdirSync } from 'node:fs';
import { NetPayError } from '@netpay/protocol';
import type { Command } from 'commander';
import { cliError } from '../../errors.ts';
import { listenForStop } from '../../lifecycle.ts';
import { DirSchema, PortSchema, zodArg } from '../../options.ts';
import { DEMO_PASSWORD } from './accounts.ts';

/** What the demo started (start.ts is imported when the demo runs: it loads every service). */
type Demo = Awaited<ReturnType<typeof import('./start.ts').startDemo>>;

interface DemoFlags {
  data: string;
  reset?: boolean;
  json?: boolean;
  port: number;
}

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
  const { rmSync } = await import('node:fs');
  const { resolve } = await import('node:path');
  const dir = resolve(flags.data);
  if (flags.reset) rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stop = listenForStop();
  const running: { close(): Promise<void> }[] = [];
  const note = (text: string) => {
    if (!flags.json) process.stderr.write(text);
  };
  try {
    note('starting the bank, the broker and two vendor sites (the first run takes a few seconds)…\n');
    const { startDemo } = await import('./start.ts');
    const demo = await startDemo(dir, flags.port, running);
    if (stop.requested()) return;
    printDemo(flags, dir, demo);
    await stop.signal;
    note('stopping…\n');
  } catch (e) {
    throw e instanceof NetPayError ? e : cliError(`the demo could not start: ${(e as Error).message}`);
  } finally {
    stop.dispose();
    for (const r of running.reverse()) await r.close().catch(() => {});
  }
}

/** What is running, and how to try it: one JSON line with --json. */
function printDemo(flags: DemoFlags, dir: string, demo: Demo) {
  const { urls, secrets, secretsFile, customers } = demo;
  if (flags.json) {
    process.stdout.write(
      `${JSON.stringify({ urls, adminToken: secrets.adminToken, customers, secrets: secretsFile, data: dir })}\n`,
    );
    return;
  }
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
