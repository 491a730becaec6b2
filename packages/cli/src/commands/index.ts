import type { Command } from 'commander';
import { registerBankCommands } from './bank.ts';
import { registerBrokerCommands } from './broker/index.ts';
import { registerDemoCommands } from './demo/index.ts';
import { registerPeerCommands } from './peer.ts';
import { registerVendorCommands } from './vendor.ts';
import { registerWalletCommands } from './wallet/index.ts';

/**
 * Every command group of `netpay`. A group lives in its own file (`commands/bank.ts`) or, once it grows,
 * its own folder (`commands/wallet/index.ts` and a module per job), and exports `register…Commands(program)`,
 * which adds `program.command('<group>')` with its subcommands; add it here.
 * Load heavy modules inside actions (`await import(…)`) so `netpay --help` stays fast.
 */
export const COMMAND_GROUPS: readonly ((program: Command) => void)[] = [
  registerBankCommands,
  registerBrokerCommands,
  registerVendorCommands,
  registerWalletCommands,
  registerPeerCommands,
  registerDemoCommands,
];
