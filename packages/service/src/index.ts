export * from './app.ts';
export * from './backoff.ts';
export * from './errors.ts';
export * from './html.ts';
export * from './idempotency.ts';
export * from './input.ts';
export * from './serve.ts';
export * from './signed-request.ts';
