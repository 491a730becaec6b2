export * from './broker-api.ts';
export { outcomeUnknown } from './ops/retry.ts';
export * from './pay-fetch.ts';
export * from './state.ts';
export * from './storage.ts';
export * from './wallet.ts';
