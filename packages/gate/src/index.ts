export * from './broker-client.ts';
// Types that the values above return, so that code built on them can name them in its declarations.
export type { HandoverAnswer } from './chains/handover-out.ts';
export * from './gate.ts';
export * from './redeem/redeemer.ts';
export type { BrokerPart } from './redeem/statement.ts';
export * from './store/store.ts';
