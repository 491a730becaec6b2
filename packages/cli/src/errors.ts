import { NetPayError } from '@netpay/protocol';

/**
 * A mistake the user can fix (a bad flag, a port in use, an unreachable database): a NetPayError with
 * code `cli_usage`, printed as one line, `netpay: <message>`, with a non-zero exit (`details.exitCode`,
 * default 1) and no stack trace. Every other NetPayError a command lets escape (a broker's refusal, a
 * wallet's) is printed the same way; anything else is a bug and is printed with its stack.
 */
export const cliError = (message: string, exitCode = 1) =>
  new NetPayError('cli_usage', message, { details: { exitCode } });
