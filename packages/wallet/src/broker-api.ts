import { MinorWireSchema, TouchstoneSchema } from '@netpay/protocol';
import { z } from 'zod';

/** Something the wallet could not do: a machine-readable code, a message that says what to do. */
export class WalletError extends Error {
  override readonly name = 'WalletError';
  constructor(
    readonly code: string,
    message: string,
    readonly status?: number,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

const SessionSchema = z.object({ token: z.string(), customerId: z.string(), deviceId: z.string() });
/** An amount on the wire (a decimal string of minor units), as a bigint. */
const Minor = MinorWireSchema.transform((v) => BigInt(v));

export const GrantPeriodSchema = z.enum(['day', 'total']);
export type GrantPeriod = z.infer<typeof GrantPeriodSchema>;

/**
 * A vendor's grant on the customer's server-side wallet (docs/broker.md §16a): its cap per day or in
 * total, what it charged in the current period and what is left. `active`: a browser is signed in there
 * and the grant is not withdrawn.
 */
export const WalletGrantSchema = z.object({
  grantId: z.string(),
  vendorId: z.string(),
  vendorName: z.string(),
  active: z.boolean(),
  cap: Minor,
  period: GrantPeriodSchema,
  spent: Minor,
  remaining: Minor,
});
export type WalletGrant = z.infer<typeof WalletGrantSchema>;
const Schemas = {
  config: z.object({
    brokerId: z.string(),
    currency: z.string(),
    exponent: z.number().int(),
    denominations: z.array(z.string()),
    maxChainLength: z.number().int(),
    feeBasisPoints: z.number().int(),
  }),
  register: z.object({ customerId: z.string(), deviceId: z.string() }),
  verify: z.object({ session: SessionSchema }),
  login: z.union([
    z.object({ verificationRequired: z.literal(false), session: SessionSchema }),
    z.object({ verificationRequired: z.literal(true), deviceId: z.string() }),
  ]),
  me: z.object({ balance: z.string(), currency: z.string(), exponent: z.number().int() }).passthrough(),
  movement: z.object({ movementId: z.string(), amount: z.string(), balance: z.string() }),
  buy: z.object({
    chains: z.array(z.object({ chainId: z.string(), touchstone: TouchstoneSchema })),
    total: z.string(),
    balance: z.string(),
  }),
  chains: z.object({
    chains: z.array(
      z
        .object({
          chainId: z.string(),
          status: z.string(),
          redeemedCoins: z.number(),
          serverSide: z.boolean(),
        })
        .passthrough(),
    ),
  }),
  /** A refund done, or pending while the holder's lease runs (202, ask again after `retryAfter` s). */
  refund: z.union([
    z.object({ status: z.literal('pending'), chainId: z.string(), retryAfter: z.number().int().min(0) }),
    z.object({ chainId: z.string(), amount: z.string(), balance: z.string() }).passthrough(),
  ]),
  send: z.object({ to: z.string(), amount: z.string(), balance: z.string() }),
  /** A registered vendor or peer (GET /parties/:id): its key checks the receipts it signs. */
  party: z
    .object({ id: z.string(), kind: z.string(), name: z.string(), publicKey: z.string() })
    .passthrough(),
  authorize: z.object({ redirect: z.string(), grantId: z.string() }).passthrough(),
  grants: z.object({ grants: z.array(WalletGrantSchema) }),
  grant: WalletGrantSchema,
  /** An answer without a body (204). */
  none: z.undefined(),
} as const;

/** The customer's side of the broker's HTTP API (docs/broker.md §6.2), every answer schema-checked. */
export function createBrokerApi(baseUrl: string, fetchImpl: typeof fetch = globalThis.fetch) {
  const root = baseUrl.replace(/\/+$/, '');
  async function call<K extends keyof typeof Schemas>(
    kind: K,
    method: string,
    path: string,
    o: { token?: string | undefined; body?: unknown; key?: string } = {},
  ): Promise<z.infer<(typeof Schemas)[K]>> {
    let res: Response;
    try {
      res = await fetchImpl(root + path, {
        method,
        headers: {
          ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
          ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(o.key ? { 'idempotency-key': o.key } : {}),
        },
        ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (e) {
      throw new WalletError(
        'broker_unreachable',
        `cannot reach the broker at ${root}: ${(e as Error).message}`,
      );
    }
    const json = (await res.json().catch(() => undefined)) as
      | { code?: string; message?: string; details?: unknown }
      | undefined;
    if (!res.ok) {
      throw new WalletError(
        json?.code ?? 'broker_error',
        json?.message ?? `the broker answered ${res.status} to ${method} ${path}`,
        res.status,
        json?.details,
      );
    }
    const parsed = Schemas[kind].safeParse(json);
    if (!parsed.success)
      throw new WalletError('bad_broker_answer', `unexpected answer from the broker to ${method} ${path}`);
    return parsed.data as z.infer<(typeof Schemas)[K]>;
  }
  return { url: root, call };
}

export type BrokerApi = ReturnType<typeof createBrokerApi>;
