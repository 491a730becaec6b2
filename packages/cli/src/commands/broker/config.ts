/**
 * The broker's config as the commands build it: the JSON file of `--config` (checked later by the broker's
 * own config schema) with `--dev` and NETPAY_ADMIN_TOKEN laid over it, and, in dev mode, a bank account the
 * broker opens for itself.
 */
import { readFileSync } from 'node:fs';
import { cliError } from '../../errors.ts';

/** The flags every broker command that opens the broker's database takes. */
export interface CommonFlags {
  data?: string;
  config?: string;
  bank?: string;
  dev?: boolean;
  json?: boolean;
}

/** The broker config file (JSON, checked by the broker's config schema) with flags laid over it. */
export function loadConfig(flags: CommonFlags): Record<string, unknown> {
  let config = flags.config ? readConfigFile(flags.config) : {};
  if (flags.dev) config = { ...config, dev: true };
  const admin = process.env.NETPAY_ADMIN_TOKEN?.trim();
  if (admin) config = { ...config, adminToken: admin };
  return config;
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw cliError(`cannot read the config file ${file}: ${(e as Error).message}`);
  }
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch {
    throw cliError(`the config file ${file} is not valid JSON`);
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw cliError(`the config file ${file} must hold a JSON object`);
  }
  return config as Record<string, unknown>;
}

/**
 * Dev convenience: with --dev and --bank but no bank account in the config, the broker opens its own
 * account at the (dev) bank on first start and keeps the credentials in its data folder for next time. A
 * bank that is not listening yet is waited for, with back-off, before the broker starts.
 */
export async function devBankAccount(
  flags: CommonFlags,
  config: Record<string, unknown>,
  databaseUrl: string | undefined,
) {
  if (!flags.dev || !flags.bank || config.bank !== undefined) return config;
  const { existsSync, mkdirSync, writeFileSync } = await import('node:fs');
  const { join, resolve } = await import('node:path');
  const dir = resolve(databaseUrl ? '.netpay' : (flags.data ?? '.netpay/broker'));
  const file = join(dir, 'dev-bank-account.json');
  if (existsSync(file)) return { ...config, bank: JSON.parse(readFileSync(file, 'utf8')) };
  const { createBankClient } = await import('@netpay/bank/client');
  const { unanswered } = await import('@netpay/api');
  const { withBackoff } = await import('@netpay/service');
  // The bank may not be listening yet (services start in any order): wait for it, saying so each time.
  const bank = createBankClient(flags.bank);
  const account = await withBackoff(() => bank.createAccount({ name: String(config.brokerId ?? 'broker') }), {
    what: `the bank at ${flags.bank} (to open the broker's account)`,
    transient: unanswered,
    log: (message) => process.stderr.write(`netpay broker: ${message}\n`),
  }).catch((e: unknown) => {
    throw cliError(`cannot open the broker's account at the bank ${flags.bank}: ${(e as Error).message}`);
  });
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, JSON.stringify({ account: account.id, token: account.token }), { mode: 0o600 });
  return { ...config, bank: { account: account.id, token: account.token } };
}
