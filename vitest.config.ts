import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.test.ts'],
    reporters: ['default', './tools/summary-reporter.ts'],
    testTimeout: 60_000,
    // Starting a bank, a broker and a vendor on PGlite takes seconds on a busy 2-core machine.
    hookTimeout: 120_000,
    // expect.poll waits for what a page or a server will show: up to 10 s on a busy machine, not 1 s.
    expect: { poll: { timeout: 10_000 } },
    // A real PostgreSQL server, and Debian's chromium for the browser tests (installed when missing).
    globalSetup: ['./tools/pg-global-setup.ts', './tools/chromium.ts'],
  },
});
