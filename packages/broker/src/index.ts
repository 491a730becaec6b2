export * from './app.ts';
export * from './bank.ts';
export * from './config.ts';
export type { Notifier } from './context.ts';
export * from './errors.ts';
export * from './http-bank.ts';
export { auditLedger } from './ledger/ledger.ts';
export * from './migrations.ts';
export * from './server.ts';
