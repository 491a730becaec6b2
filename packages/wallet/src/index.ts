export * from './broker-api.ts';
export * from './pay-fetch.ts';
export * from './state.ts';
export * from './storage.ts';
export * from './wallet.ts';
