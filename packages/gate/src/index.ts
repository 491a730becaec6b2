export * from './broker-client.ts';
export * from './gate.ts';
export * from './redeem/redeemer.ts';
export * from './store/store.ts';
