import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.test.ts'],
    reporters: ['default', './tools/summary-reporter.ts'],
    testTimeout: 60_000,
    globalSetup: ['./tools/pg-global-setup.ts'],
  },
});
