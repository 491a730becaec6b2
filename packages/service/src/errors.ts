/**
 * Expected failures of a service, thrown from handlers and turned into `{ code, message }` JSON with the
 * status. Each service keeps its own closed set of codes mapped by a `Record<Code, number>`, so a new code
 * without a status fails to compile.
 */
export class AppError extends Error {
  override readonly name = 'AppError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** Builds a thrower for one service's codes: `fail('insufficient_funds', 'balance 3 < 5')`. */
export function errorFactory<Code extends string>(statuses: Record<Code, number>) {
  return (code: Code, message: string, details?: Record<string, unknown>) =>
    new AppError(statuses[code], code, message, details);
}

export interface ErrorBody {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}
