/**
 * `netpay broker settle | audit`: jobs run on the broker's database directly, without its HTTP server (with
 * the embedded database, while the broker is stopped: one process owns a PGlite folder).
 */
import type { Db } from '@netpay/db';
import { cliError } from '../../errors.ts';
import { databaseFromEnv } from '../../lifecycle.ts';
import { type CommonFlags, loadConfig } from './config.ts';

export async function offline(flags: CommonFlags, job: 'settle' | 'audit'): Promise<void> {
  const databaseUrl = databaseFromEnv(flags.data);
  const config = loadConfig(flags);
  const { openDatabase, migrate } = await import('@netpay/db');
  const { BROKER_MIGRATIONS, DEFAULT_BROKER_DATA_DIR } = await import('@netpay/broker');
  const { resolve } = await import('node:path');
  const db = await openDatabase(
    databaseUrl ? { url: databaseUrl } : { dataDir: resolve(flags.data ?? DEFAULT_BROKER_DATA_DIR) },
  );
  try {
    await migrate(db, BROKER_MIGRATIONS);
    if (job === 'audit') await audit(db, flags);
    else await settle(db, flags, config);
  } finally {
    await db.close();
  }
}

/** Checks the ledger's invariants and prints its totals; a failed audit exits non-zero. */
async function audit(db: Db, flags: CommonFlags) {
  const { auditLedger } = await import('@netpay/broker');
  const report = await auditLedger(db);
  if (flags.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  else {
    process.stdout.write(
      `ledger ${report.ok ? 'balanced' : 'NOT BALANCED'}: ${report.accounts} accounts, ${report.transfers} transfers\n`,
    );
    for (const [kind, total] of Object.entries(report.totals))
      process.stdout.write(`  ${kind.padEnd(9)} ${total}\n`);
  }
  if (!report.ok) throw cliError('the ledger audit failed; see the report above');
}

/** One settlement batch: pays credited vendor balances out to their banks. */
async function settle(db: Db, flags: CommonFlags, config: Record<string, unknown>) {
  if (!flags.bank) throw cliError('settle needs --bank <url> and a bank account in the config file');
  const { createBroker, httpBank } = await import('@netpay/broker');
  const broker = createBroker({ db, config, bank: httpBank(flags.bank) });
  const result = await broker.services.settlement.run();
  if (flags.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else {
    process.stdout.write(
      `settlement ${result.runId}: ${result.created} payouts created (total ${result.total}), ${result.sent} sent, ` +
        `${result.retrying} to retry, ${result.failed} refused\n`,
    );
  }
}
