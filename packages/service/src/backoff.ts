/**
 * Waiting for another service at start-up, so services start in any order: an attempt that fails in a way
 * worth waiting out (the other service is not listening yet) is tried again after a wait that doubles from
 * `firstDelayMs` up to `maxDelayMs`, and each wait is logged. Any other failure stops the wait at once.
 */
export interface BackoffOptions {
  /** What is waited for, for the log: "the bank at http://127.0.0.1:4100". */
  readonly what: string;
  /** Told of each wait: what failed and when the next attempt is. */
  readonly log: (message: string, details: { attempt: number; delayMs: number; reason: string }) => void;
  /** Whether a failure is worth waiting out; default: every failure is. */
  readonly transient?: (e: unknown) => boolean;
  /** Default 500 ms. */
  readonly firstDelayMs?: number;
  /** Default 30 s. */
  readonly maxDelayMs?: number;
  /** Stops waiting (the service is closing): the pending wait ends and the last failure is thrown. */
  readonly signal?: AbortSignal;
}

export const reasonOf = (e: unknown): string => {
  const cause = (e as { cause?: { code?: unknown } })?.cause?.code;
  const message = e instanceof Error ? e.message : String(e);
  return typeof cause === 'string' && !message.includes(cause) ? `${message} (${cause})` : message;
};

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    // Not unref'd: a process waiting for another service at start has nothing else keeping it alive.
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Runs `attempt` until it succeeds, waiting with back-off after each transient failure. */
export async function withBackoff<T>(attempt: () => Promise<T>, o: BackoffOptions): Promise<T> {
  const first = o.firstDelayMs ?? 500;
  const most = o.maxDelayMs ?? 30_000;
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (e) {
      if (o.signal?.aborted || !(o.transient?.(e) ?? true)) throw e;
      const delayMs = Math.min(most, first * 2 ** Math.min(n - 1, 30));
      const reason = reasonOf(e);
      o.log(`${o.what} is not reachable (${reason}); trying again in ${delayMs / 1000} s (attempt ${n})`, {
        attempt: n,
        delayMs,
        reason,
      });
      await sleep(delayMs, o.signal);
      if (o.signal?.aborted) throw e;
    }
  }
}
