/**
 * `npm run soak -- load`: the load run of issue 18 §5. WALLETS wallets (default 50, in driver processes of
 * 17) pay VENDORS vendors (default 4) for SECONDS (default 60), all real processes, first with one broker,
 * then with two broker processes over the same PostgreSQL behind a TCP balancer. Each reports payments/s,
 * p50/p99 latency, errors and the verdict (soak/load/run.ts): `{ oneBroker: {…}, twoBrokers: {…} }`.
 * The brokers' PostgreSQL is the embedded server the tests use (tools/pg-global-setup.ts), or
 * NETPAY_TEST_PG_URL.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startServer } from '../tools/pg-global-setup.ts';
import { runLoad } from './load/run.ts';

const num = (name: string, fallback: number) => {
  const v = process.env[name];
  return v === undefined || v === '' ? fallback : Number(v);
};

/** A fresh database on the server at `adminUrl`. */
async function freshDatabase(adminUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function run(): Promise<Record<string, unknown>> {
  const settings = { wallets: num('WALLETS', 50), vendors: num('VENDORS', 4), seconds: num('SECONDS', 60) };
  const external = process.env.NETPAY_TEST_PG_URL;
  const server = external ? { url: external, stop: async () => {} } : await startServer();
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const out: Record<string, unknown> = { settings };
  try {
    for (const [key, brokers] of [
      ['oneBroker', 1],
      ['twoBrokers', 2],
    ] as const) {
      const dir = mkdtempSync(join(tmpdir(), 'netpay-load-'));
      try {
        const databaseUrl = await freshDatabase(server.url, `netpay_load_${brokers}_${Date.now()}`);
        out[key] = await runLoad({ ...settings, dir, brokers, databaseUrl, log });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  } finally {
    await server.stop();
  }
  return out;
}
