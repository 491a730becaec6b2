/**
 * Sending a keyed request to the broker again while its outcome is unknown (issue 18 §2): nothing answered,
 * the answer was a 5xx or could not be read (a gateway's 502, a connection cut mid-body), or the broker is
 * still running the first copy (`request_in_progress`). Each attempt carries the same Idempotency-Key, so
 * the broker does the work once and answers every copy with the first answer. A refusal (any other 4xx)
 * is final and thrown at once. Bounded: after the last attempt the error is thrown, and the caller may
 * send the same key again later (it gets the first answer then too).
 */
import { unavailable } from '@netpay/api';
import { isNetPayError } from '@netpay/protocol';

/** Attempts per call, and the back-off between them (doubling from the first, capped). */
export const RETRY = { attempts: 6, firstDelayMs: 50, maxDelayMs: 2_000 } as const;

/** True when the broker's answer leaves the outcome unknown: worth sending again with the same key. */
export function outcomeUnknown(e: unknown): boolean {
  return unavailable(e) || isNetPayError(e, 'request_in_progress');
}

export async function withRetries<T>(send: () => Promise<T>, attempts: number = RETRY.attempts): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await send();
    } catch (e) {
      if (attempt >= attempts || !outcomeUnknown(e)) throw e;
      const wait = Math.min(RETRY.maxDelayMs, RETRY.firstDelayMs * 2 ** (attempt - 1));
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}
