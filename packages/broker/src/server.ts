import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { type Db, migrate, openDatabase } from '@netpay/db';
import { withBackoff } from '@netpay/service';
import { type LoggerOptions, pino } from 'pino';
import { createBroker } from './app.ts';
import { type BankLink, createBankLink } from './bank-link.ts';
import { type BrokerConfigInput, parseBrokerConfig } from './config.ts';
import { httpBank } from './http-bank.ts';
import { createJobService } from './jobs/service.ts';
import { BROKER_MIGRATIONS } from './migrations.ts';

export const DEFAULT_BROKER_DATA_DIR = '.netpay/broker';

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
  /** Stops waiting for the database at start (Ctrl-C while it is not up): the start then fails. */
  readonly signal?: AbortSignal;
}

/**
 * The logger of the waits at start, as the app's own (Fastify takes a `stream` in its logger options,
 * pino as its second argument): `netpay broker start --json` keeps stdout for its one JSON line.
 */
function startLogger(logger: StartBrokerOptions['logger']): pino.Logger {
  if (typeof logger !== 'object') return pino({ enabled: logger === true });
  const { stream, ...rest } = logger as LoggerOptions & { stream?: pino.DestinationStream };
  return stream ? pino(rest, stream) : pino(rest);
}

/** Connection failures worth waiting out at start: the server is not up, or still starting. */
const DB_STARTING = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EAI_AGAIN', '57P03']);

/** Opens and migrates the database; a PostgreSQL server that is not up yet is waited for with back-off. */
async function openBrokerDatabase(options: StartBrokerOptions, log: pino.Logger, signal: AbortSignal) {
  const url = options.databaseUrl;
  const dataDir = url ? undefined : resolve(options.dataDir ?? DEFAULT_BROKER_DATA_DIR);
  const open = async () => {
    const db: Db = await openDatabase(url ? { url } : { dataDir });
    try {
      await migrate(db, BROKER_MIGRATIONS);
    } catch (e) {
      await db.close().catch(() => {});
      throw e;
    }
    return db;
  };
  if (!url) return open();
  return withBackoff(open, {
    what: 'the database',
    transient: (e) => DB_STARTING.has(String((e as { code?: unknown })?.code)),
    log: (message, details) => log.warn(details, message),
    signal,
  });
}

/**
 * Opens and migrates the database, starts the HTTP API and the scheduled jobs. A bank that cannot be
 * reached yet does not stop the start: the broker listens at once (/livez), and /healthz answers 503
 * `not_ready` until the bank has been reached, asked again with back-off (docs/broker.md §2.1).
 */
export async function startBroker(options: StartBrokerOptions) {
  const config = parseBrokerConfig(options.config ?? {}); // a bad config stops us before any I/O
  const log = startLogger(options.logger);
  const stopping = new AbortController();
  options.signal?.addEventListener('abort', () => stopping.abort(), { once: true });
  let link: BankLink | undefined;
  if (options.bankUrl) {
    link = createBankLink({ url: options.bankUrl, currency: config.currency, log });
    await link.check(); // a bank in another currency stops the start; one not listening yet does not
  }
  const db = await openBrokerDatabase(options, log, stopping.signal);
  const broker = createBroker({
    db,
    config,
    bank: options.bankUrl && link ? link.gate(httpBank(options.bankUrl)) : null,
    logger: options.logger ?? false,
    ...(link ? { notReady: link.notReady } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  await broker.services.keys.currentKey();
  await broker.app.listen({ port: options.port, host: options.host ?? '127.0.0.1' });
  const address = broker.app.server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  if (link?.notReady()) void link.waitUntilReady(stopping.signal);

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
        stopping.abort();
        for (const t of timers) clearInterval(t);
        await broker.app.close();
        await db.close();
      })();
      return closed;
    },
  };
}

export type RunningBroker = Awaited<ReturnType<typeof startBroker>>;
