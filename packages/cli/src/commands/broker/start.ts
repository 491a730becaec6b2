/** `netpay broker start`: runs the broker until Ctrl-C (PGlite in a folder, or PostgreSQL with DATABASE_URL). */
import { databaseFromEnv, serveUntilStopped } from '../../lifecycle.ts';
import { redactUrl } from '../../options.ts';
import { type CommonFlags, devBankAccount, loadConfig } from './config.ts';

export interface StartFlags extends CommonFlags {
  port: number;
  host: string;
}

export async function startBroker(flags: StartFlags): Promise<void> {
  const databaseUrl = databaseFromEnv(flags.data);
  const config = await devBankAccount(flags, loadConfig(flags), databaseUrl);
  await serveUntilStopped({
    context: { service: 'broker', host: flags.host, port: flags.port, data: flags.data, databaseUrl },
    json: flags.json,
    start: async (signal) => {
      const { startBroker: start } = await import('@netpay/broker');
      return start({
        signal,
        port: flags.port,
        host: flags.host,
        ...(flags.data !== undefined ? { dataDir: flags.data } : {}),
        ...(databaseUrl !== undefined ? { databaseUrl } : {}),
        ...(flags.bank ? { bankUrl: flags.bank } : {}),
        config,
        logger: { level: 'warn', stream: process.stderr } as { level: string },
      });
    },
    announce: (running) => {
      const brokerId = running.broker.config.brokerId;
      const db = running.db.kind === 'postgres' ? `PostgreSQL at ${redactUrl(databaseUrl ?? '')}` : 'PGlite';
      return {
        json: { url: running.url, database: running.db.kind, brokerId, pid: process.pid },
        text:
          `NetPay broker ${brokerId} listening on ${running.url}\n` +
          `  database  ${db}\n` +
          `  bank      ${flags.bank ?? 'none (loads, unloads and payouts answer 503)'}\n` +
          `  API docs  ${running.url}/docs\n` +
          'Stop with Ctrl-C.\n',
      };
    },
  });
}
