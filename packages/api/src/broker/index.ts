import { adminRoutes } from './admin.ts';
import { customerRoutes, publicRoutes } from './customers.ts';
import { p2pRoutes } from './p2p.ts';
import { partyRoutes } from './parties.ts';
import { walletRoutes } from './wallet.ts';

/** The broker's HTTP API (docs/broker.md §6), every route once. */
export const brokerApi = {
  ...publicRoutes,
  ...customerRoutes,
  ...walletRoutes,
  ...partyRoutes,
  ...p2pRoutes,
  ...adminRoutes,
} as const;
export type BrokerApi = typeof brokerApi;

export * as P2p from './p2p.ts';
export * as BrokerRequests from './requests.ts';
export * as BrokerAnswers from './responses.ts';
export { adminRoutes, customerRoutes, p2pRoutes, partyRoutes, publicRoutes, walletRoutes };
