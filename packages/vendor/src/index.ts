export * from './broker-client.ts';
export * from './gate.ts';
export * from './store.ts';
