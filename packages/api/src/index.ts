export * from './bank.ts';
export * from './broker/index.ts';
export * from './client.ts';
export * from './peer.ts';
export * from './route.ts';
export * from './vendor.ts';
export * from './web.ts';
