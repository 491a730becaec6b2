import { NetPayError } from '@netpay/protocol';
import { Command, CommanderError } from 'commander';
import { COMMAND_GROUPS } from './commands/index.ts';

export const VERSION = '0.1.0';

export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

const processIo: CliIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

/** The `netpay` program with every command group registered (see commands/index.ts). */
export function createProgram(io: CliIo = processIo): Command {
  const program = new Command('netpay')
    .description('NetPay: hash-chain micro-payments. Run the bank, broker, vendors and wallets.')
    .version(VERSION, '-v, --version')
    // Settings set before the groups are added are inherited by every subcommand.
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .showHelpAfterError('(add --help for usage)')
    .addHelpText(
      'after',
      `
Examples:
  $ netpay bank start                 run the stand-in bank on http://127.0.0.1:4100
  $ netpay bank start --help          every option of one command`,
    );
  for (const register of COMMAND_GROUPS) register(program);
  return program;
}

/**
 * Runs the CLI and returns the exit code. User mistakes and refusals (NetPayErrors, bad flags) print one line; any other
 * error is a bug and prints its stack.
 */
export async function runCli(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const program = createProgram(io);
  try {
    await program.parseAsync([...argv]);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode; // commander has printed help or the error already
    if (e instanceof NetPayError) {
      io.err(`netpay: ${e.message}\n`);
      const code = e.details?.exitCode;
      return typeof code === 'number' ? code : 1;
    }
    io.err(`netpay: unexpected error (a bug; please report it)\n${(e as Error)?.stack ?? String(e)}\n`);
    return 70;
  }
}
