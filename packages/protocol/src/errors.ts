/**
 * The one error type of NetPay (every package throws it for an expected failure): a machine-readable
 * `code` from the registry of the package that raised it, the HTTP `status` where one applies (a service
 * answered with it, or will answer with it), a message for people, and details for programs (for example
 * `retryAfter`). Bugs are not NetPayErrors: they are `InvariantError`s (result.ts) or plain exceptions.
 */
export class NetPayError extends Error {
  override readonly name = 'NetPayError';
  readonly code: string;
  readonly status: number | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: string,
    message: string,
    options: { status?: number; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options.status;
    this.details = options.details;
  }

  /** The `{ code, message, details? }` body that services answer with. */
  toBody(): { code: string; message: string; details?: Record<string, unknown> } {
    return { code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) };
  }
}

/** True for a NetPayError, optionally of one of the given codes. */
export function isNetPayError(e: unknown, ...codes: readonly string[]): e is NetPayError {
  return e instanceof NetPayError && (codes.length === 0 || codes.includes(e.code));
}

/**
 * A package's registry of error codes and their HTTP statuses, and the thrower for them:
 * `const fail = errorRegistry({ insufficient_funds: 409 }); throw fail('insufficient_funds', '…')`.
 * A code missing from the table fails to compile. `cause` keeps what went wrong underneath, for logs.
 */
export function errorRegistry<Code extends string>(statuses: Readonly<Record<Code, number>>) {
  return (code: Code, message: string, details?: Record<string, unknown>, cause?: unknown) =>
    new NetPayError(code, message, {
      status: statuses[code],
      ...(details ? { details } : {}),
      ...(cause === undefined ? {} : { cause }),
    });
}
