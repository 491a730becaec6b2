/** Running the redeemer's rounds on timers until stopped. */

/**
 * Runs `steps` one after another every `ms`, never two rounds at once; a step that fails waits for the
 * next round, and does not hold back the steps after it. Returns the function that stops it.
 */
export function every(ms: number, steps: readonly (() => Promise<unknown>)[]): () => void {
  let running = false;
  const timer = setInterval(async () => {
    if (running) return;
    running = true;
    try {
      for (const step of steps) await step().catch(() => {}); // next round
    } finally {
      running = false;
    }
  }, ms);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * Runs `step` again `delayMs()` after each round has ended (the delay is read each time, so it follows
 * what the last round learned). Returns the function that stops it.
 */
export function afterEach(delayMs: () => number, step: () => Promise<unknown>): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const next = () => {
    timer = setTimeout(async () => {
      await step().catch(() => {}); // next round
      if (!stopped) next();
    }, delayMs());
    timer.unref();
  };
  next();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
