/** The broker's public face: its configuration (currency, denominations, limits) and touchstone keys (docs/broker.md §6.1). */
import { brokerApi as B } from '@netpay/api';
import { type Routable, serve } from '@netpay/service';
import { type RouteDeps, wire } from '../http.ts';

export function keyRoutes(app: Routable, d: RouteDeps) {
  const { keys, config } = d;
  // Public
  serve(app, B.config, async () => ({
    brokerId: config.brokerId,
    currency: config.currency.code,
    exponent: config.currency.exponent,
    denominations: config.denominations.map(wire),
    maxChainLength: config.maxChainLength,
    chainLifetimeSeconds: config.chainLifetimeSeconds,
    feeBasisPoints: config.feeBasisPoints,
    limits: Object.fromEntries(Object.entries(config.limits).map(([k, v]) => [k, wire(v)])),
  }));
  serve(app, B.keys, async () => ({ keys: await keys.list() }));
}
