import { type BrokerAnswers, brokerApi, createClient } from '@netpay/api';
import type { z } from 'zod';

/**
 * The customer's side of the broker's HTTP API (docs/broker.md §6.2, §16a): the broker contract's client
 * (@netpay/api), every answer schema-checked. The broker's refusals come back as NetPayErrors with its
 * code and status; a broker that cannot be reached is `broker_unreachable` (status 503).
 */
export function createBrokerApi(baseUrl: string, fetchImpl?: typeof fetch) {
  return createClient(brokerApi, {
    url: baseUrl,
    name: 'the broker',
    unreachableCode: 'broker_unreachable',
    timeoutMs: 30_000,
    ...(fetchImpl ? { fetch: fetchImpl } : {}),
  });
}
export type BrokerApi = ReturnType<typeof createBrokerApi>;

export type GrantPeriod = 'day' | 'total';

/**
 * A vendor's grant on the customer's server-side wallet (docs/broker.md §16a): its cap per day or in
 * total, what it charged in the current period and what is left. `active`: a browser is signed in there
 * and the grant is not withdrawn.
 */
export interface WalletGrant {
  readonly grantId: string;
  readonly vendorId: string;
  readonly vendorName: string;
  readonly active: boolean;
  readonly cap: bigint;
  readonly period: GrantPeriod;
  readonly spent: bigint;
  readonly remaining: bigint;
}

/** A grant as the broker sends it (its amounts checked by the contract's schema), with bigint money. */
export function grantFromWire(g: z.infer<typeof BrokerAnswers.GrantAnswer>): WalletGrant {
  return {
    grantId: g.grantId,
    vendorId: g.vendorId,
    vendorName: g.vendorName,
    active: g.active,
    cap: BigInt(g.cap),
    period: g.period,
    spent: BigInt(g.spent),
    remaining: BigInt(g.remaining),
  };
}
