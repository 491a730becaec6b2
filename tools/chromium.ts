/**
 * Debian's chromium for the browser tests (driven by playwright-core; Playwright's own browser download
 * does not work here). `ensureChromium()` installs the package with apt-get when it is missing and we are
 * root (CI and these machines), quietly, once per machine; otherwise it says what to install.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const CHROMIUM = process.env.NETPAY_CHROMIUM ?? '/usr/bin/chromium';

export function ensureChromium(): string {
  if (existsSync(CHROMIUM)) return CHROMIUM;
  if (process.getuid?.() !== 0) {
    throw new Error(
      `the browser tests need ${CHROMIUM}: run \`sudo apt-get install chromium\` (or set NETPAY_CHROMIUM)`,
    );
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const steps: string[][] = [
    ['apt-get', 'update', '-qq'],
    ['apt-get', 'install', '-y', '-qq', 'chromium'],
  ];
  for (const [cmd, ...args] of steps) {
    const r = spawnSync(cmd!, args, { env, encoding: 'utf8', timeout: 15 * 60_000 });
    if (r.status !== 0) {
      throw new Error(
        `installing chromium failed at \`${[cmd, ...args].join(' ')}\`:\n${r.stdout}\n${r.stderr}`,
      );
    }
  }
  if (!existsSync(CHROMIUM)) throw new Error(`apt-get installed chromium but ${CHROMIUM} is not there`);
  return CHROMIUM;
}

/** Vitest globalSetup: makes sure chromium is there before any browser test starts. */
export default function setup(): void {
  ensureChromium();
}
