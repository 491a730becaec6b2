export * from './client.ts';
export * from './errors.ts';
export * from './migrations.ts';
export * from './routes.ts';
export * from './server.ts';
export * from './service.ts';
export * from './wire.ts';
