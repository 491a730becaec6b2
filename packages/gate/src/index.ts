export * from './broker-client.ts';
export * from './gate.ts';
export * from './redeemer.ts';
export * from './store.ts';
