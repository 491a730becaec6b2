import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { migrate, openDatabase } from '@netpay/db';
import type { Currency } from '@netpay/protocol';
import type { AppOptions } from '@netpay/service';
import { BANK_MIGRATIONS } from './migrations.ts';
import { buildBankApp } from './routes.ts';
import {
  type BankService,
  type Clock,
  claimCurrency,
  createBankService,
  DEFAULT_CURRENCY,
  systemClock,
} from './service.ts';

/** Where the embedded database lives when neither a folder nor a PostgreSQL URL is given (relative to cwd). */
export const DEFAULT_BANK_DATA_DIR = '.netpay/bank';

export interface StartBankOptions {
  /** 0 picks a free port. */
  readonly port: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** PGlite data folder; default ./.netpay/bank. Ignored when databaseUrl is set. */
  readonly dataDir?: string;
  /** postgres://… to keep the bank on a PostgreSQL server. */
  readonly databaseUrl?: string;
  /** Dev mode: accounts may be opened with an initial balance. */
  readonly dev: boolean;
  readonly logger?: AppOptions['logger'];
  readonly currency?: Currency;
  readonly clock?: Clock;
}

export interface RunningBank {
  readonly url: string;
  readonly service: BankService;
  readonly database: { readonly kind: 'pglite' | 'postgres'; readonly dataDir?: string };
  /** Stops accepting requests, lets the ones in flight finish, closes the database. Safe to call twice. */
  close(): Promise<void>;
}

function urlOf(address: AddressInfo): string {
  const unspecified = address.address === '0.0.0.0' || address.address === '::';
  const host = unspecified
    ? '127.0.0.1'
    : address.family === 'IPv6'
      ? `[${address.address}]`
      : address.address;
  return `http://${host}:${address.port}`;
}

/** Opens the database, migrates it, and serves the bank's HTTP API. */
export async function startBank(options: StartBankOptions): Promise<RunningBank> {
  const dataDir = options.databaseUrl ? undefined : resolve(options.dataDir ?? DEFAULT_BANK_DATA_DIR);
  const db = await openDatabase(options.databaseUrl ? { url: options.databaseUrl } : { dataDir });
  try {
    await migrate(db, BANK_MIGRATIONS);
    const currency = options.currency ?? DEFAULT_CURRENCY;
    await claimCurrency(db, currency);
    const service = createBankService({
      db,
      clock: options.clock ?? systemClock,
      currency,
      dev: options.dev,
    });
    const { app } = buildBankApp({
      service,
      logger: options.logger ?? false,
      health: async () => {
        await db.query('SELECT 1');
      },
    });
    try {
      await app.listen({ port: options.port, host: options.host ?? '127.0.0.1' });
    } catch (e) {
      await app.close().catch(() => {});
      throw e;
    }
    let closing: Promise<void> | undefined;
    return {
      url: urlOf(app.server.address() as AddressInfo),
      service,
      database: { kind: db.kind, ...(dataDir ? { dataDir } : {}) },
      close() {
        closing ??= app.close().then(() => db.close());
        return closing;
      },
    };
  } catch (e) {
    await db.close().catch(() => {});
    throw e;
  }
}
