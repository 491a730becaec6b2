/**
 * A mistake the user can fix (a bad flag, a port in use, an unreachable database): printed as one line,
 * `netpay: <message>`, with a non-zero exit and no stack trace. Anything else that escapes a command is a
 * bug and is printed with its stack.
 */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}
