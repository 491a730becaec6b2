import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { createBankClient } from '@netpay/bank/client';
import { migrate, openDatabase } from '@netpay/db';
import type { LoggerOptions } from 'pino';
import { createBroker } from './app.ts';
import { type BrokerConfig, type BrokerConfigInput, parseBrokerConfig } from './config.ts';
import { httpBank } from './http-bank.ts';
import { createJobService } from './jobs/service.ts';
import { BROKER_MIGRATIONS } from './migrations.ts';

export const DEFAULT_BROKER_DATA_DIR = '.netpay/broker';

/**
 * Amounts cross to the bank as they are, in minor units, so both must count in the same currency and
 * exponent. A bank that cannot be reached now is not an error (it is asked again for every transfer).
 */
async function checkBankCurrency(bankUrl: string, config: BrokerConfig): Promise<void> {
  let info: { currency: { code: string; exponent: number } };
  try {
    info = await createBankClient(bankUrl, { timeoutMs: 5_000 }).info();
  } catch {
    return;
  }
  const ours = config.currency;
  if (info.currency.code !== ours.code || info.currency.exponent !== ours.exponent) {
    throw new Error(
      `broker config: currency ${ours.code} with ${ours.exponent} decimals differs from the bank's ` +
        `${info.currency.code} with ${info.currency.exponent}; start the bank with --exponent ${ours.exponent} or set currency in the config`,
    );
  }
}

export interface StartBrokerOptions {
  /** 0 picks a free port. */
  readonly port: number;
  readonly host?: string;
  /** PGlite data folder (default ./.netpay/broker); ignored when databaseUrl is set. */
  readonly dataDir?: string;
  readonly databaseUrl?: string;
  readonly config?: BrokerConfigInput;
  /** URL of the bank service; without it loads, unloads and payouts answer 503. */
  readonly bankUrl?: string;
  readonly logger?: LoggerOptions | boolean;
  readonly clock?: () => number;
}

/** Opens and migrates the database, starts the HTTP API and the scheduled jobs. */
export async function startBroker(options: StartBrokerOptions) {
  const config = parseBrokerConfig(options.config ?? {}); // a bad config stops us before any I/O
  if (options.bankUrl) await checkBankCurrency(options.bankUrl, config);
  const dataDir = options.databaseUrl ? undefined : resolve(options.dataDir ?? DEFAULT_BROKER_DATA_DIR);
  const db = await openDatabase(options.databaseUrl ? { url: options.databaseUrl } : { dataDir });
  await migrate(db, BROKER_MIGRATIONS);
  const broker = createBroker({
    db,
    config,
    bank: options.bankUrl ? httpBank(options.bankUrl) : null,
    logger: options.logger ?? false,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  await broker.services.keys.currentKey();
  await broker.app.listen({ port: options.port, host: options.host ?? '127.0.0.1' });
  const address = broker.app.server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;

  // Every process ticks; a run starts only when this process claims the job in the database (jobs/), so
  // with several processes over one database each job still runs once per period.
  const jobs = createJobService(broker.ctx);
  const timers: NodeJS.Timeout[] = [];
  const every = (name: string, seconds: number, job: () => Promise<unknown>) => {
    if (seconds <= 0) return;
    let running = false;
    const t = setInterval(async () => {
      if (running) return;
      running = true;
      try {
        await jobs.runOnce(name, seconds * 1000, job);
      } catch (e) {
        broker.app.log.error({ err: e, job: name }, 'scheduled job failed');
      } finally {
        running = false;
      }
    }, seconds * 1000);
    t.unref();
    timers.push(t);
  };
  const s = broker.config.schedule;
  every('settlement', s.settlementSeconds, () => broker.services.settlement.run());
  every('expiry', s.expirySeconds, () => broker.services.refunds.closeExpired());
  // Refunds whose holder did not answer complete once its lease is over (and after a restart).
  every('pending-refunds', Math.max(1, Math.ceil(broker.config.leaseSeconds / 4)), () =>
    broker.services.refunds.completePending(),
  );
  every('reconcile', s.reconcileSeconds, async () => {
    await broker.services.issuance.reconcile();
    // Payouts left pending by a bank time-out are retried on their own back-off, not only at day's end.
    if (broker.ctx.bank && broker.config.bank) await broker.services.settlement.sendPayouts();
  });

  let closed: Promise<void> | undefined;
  return {
    url,
    broker,
    db,
    jobs,
    close() {
      closed ??= (async () => {
        for (const t of timers) clearInterval(t);
        await broker.app.close();
        await db.close();
      })();
      return closed;
    },
  };
}

export type RunningBroker = Awaited<ReturnType<typeof startBroker>>;
