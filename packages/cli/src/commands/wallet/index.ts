/**
 * `netpay wallet …` and `netpay fetch`: the customer wallet on the command line, one module per job
 * (account, money, coins, fetch) over the shared flags and `withWallet` of session.ts. The commands are
 * listed here in the order `--help` shows them.
 */
import type { Command } from 'commander';
import { loginCommand, registerCommand, verifyCommand } from './account.ts';
import { balanceCommand, buyCommand, historyCommand } from './coins.ts';
import { fetchCommand } from './fetch.ts';
import { loadCommand, refundCommand, sendCommand } from './money.ts';

const WALLET_COMMANDS = [
  registerCommand,
  verifyCommand,
  loginCommand,
  loadCommand,
  buyCommand,
  balanceCommand,
  historyCommand,
  refundCommand,
  sendCommand,
];

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
  for (const add of WALLET_COMMANDS) add(wallet);
  fetchCommand(program);
}
