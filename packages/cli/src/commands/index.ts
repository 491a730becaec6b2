import type { Command } from 'commander';
import { registerBankCommands } from './bank.ts';
import { registerBrokerCommands } from './broker.ts';
import { registerDemoCommands } from './demo.ts';
import { registerVendorCommands } from './vendor.ts';
import { registerWalletCommands } from './wallet.ts';

/**
 * Every command group of `netpay`. A group lives in its own file (`commands/broker.ts`, …) and exports
 * `register…Commands(program)`, which adds `program.command('<group>')` with its subcommands; add it here.
 * Load heavy modules inside actions (`await import(…)`) so `netpay --help` stays fast.
 */
export const COMMAND_GROUPS: readonly ((program: Command) => void)[] = [
  registerBankCommands,
  registerBrokerCommands,
  registerVendorCommands,
  registerWalletCommands,
  registerDemoCommands,
];
