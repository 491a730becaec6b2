import {
  type Ed25519Signer,
  fromBase64url,
  type IndexMessage,
  IndexSchema,
  type PayeeShare,
  PaywordSchema,
  TouchstoneSchema,
} from '@netpay/protocol';
import { signRequest } from '@netpay/service';
import { z } from 'zod';

/** What the broker's directory answers a vendor meeting a chain (docs/broker.md §6). */
/** How long the lease granted or renewed lasts from now (ms), or what is left of the holder's. */
const Lease = { leaseMs: z.number().int().min(0) };

const ClaimAnswer = z.object({
  granted: z.boolean(),
  touchstone: TouchstoneSchema,
  backup: IndexSchema.nullable(),
  holder: z.object({ id: z.string(), url: z.string().nullable() }),
  ...Lease,
});
export type ClaimAnswer = z.infer<typeof ClaimAnswer>;

const TakeoverAnswer = z.object({
  granted: z.literal(true),
  touchstone: TouchstoneSchema,
  start: z.object({ index: z.number().int(), payword: PaywordSchema }).optional(),
  backup: IndexSchema.nullable(),
  ...Lease,
});

const KeysAnswer = z.object({
  keys: z.array(z.object({ brokerId: z.string(), keyId: z.string(), publicKey: z.string() })),
});

const RedeemAnswer = z.object({
  results: z.array(
    z.object({
      claimId: z.string(),
      status: z.enum(['credited', 'rejected']),
      code: z.string().optional(),
      amount: z.string().optional(),
    }),
  ),
});

const Usage = {
  grantId: z.string(),
  cap: z.string(),
  period: z.enum(['day', 'total']),
  spent: z.string(),
  remaining: z.string(),
};
const StatementAnswer = z.object({
  balance: z.union([z.string(), z.number(), z.bigint()]).transform((v) => BigInt(v)),
  payouts: z.array(z.object({ amount: z.string(), status: z.string() })),
  redeemed: z.object({ amount: z.string() }),
});

const WalletTokenAnswer = z.object({ ...Usage, token: z.string() });
const WalletChargeAnswer = z.object({ ...Usage, chargeId: z.string(), amount: z.string(), fee: z.string() });
export type WalletCharge = z.infer<typeof WalletChargeAnswer>;

/** The broker said no: `{ code, message }` with an HTTP status. */
export class BrokerError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

export interface BrokerClientOptions {
  readonly url: string;
  readonly vendorId: string;
  readonly signer: Ed25519Signer;
  readonly clock?: () => number;
  readonly timeoutMs?: number;
}

/** The vendor's signed calls to the broker: directory, redemption, keys. Every answer is schema-checked. */
export function createBrokerClient(o: BrokerClientOptions) {
  const root = o.url.replace(/\/+$/, '');
  const clock = o.clock ?? Date.now;

  async function call<S extends z.ZodType>(
    method: 'GET' | 'POST',
    path: string,
    schema: S,
    body?: unknown,
    /** The Idempotency-Key to send (retries of one call must send the same); default: a fresh one. */
    key?: string,
  ): Promise<z.infer<S>> {
    const headers: Record<string, string> = {
      ...signRequest(o.signer, o.vendorId, { method, path, body: body ?? null }, Math.floor(clock() / 1000)),
    };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['idempotency-key'] = key ?? crypto.randomUUID();
    }
    const res = await fetch(root + path, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(o.timeoutMs ?? 10_000),
    });
    const json = (await res.json().catch(() => ({}))) as {
      code?: string;
      message?: string;
      details?: Record<string, unknown>;
    };
    if (!res.ok)
      throw new BrokerError(
        res.status,
        json.code ?? 'broker_error',
        json.message ?? `broker answered ${res.status}`,
        json.details,
      );
    const parsed = schema.safeParse(json);
    if (!parsed.success)
      throw new BrokerError(502, 'bad_broker_answer', `unexpected answer from the broker to ${path}`);
    return parsed.data;
  }

  const PartyAnswer = z.object({ id: z.string(), publicKey: z.string(), url: z.string().nullable() });
  const partyKeys = new Map<string, { publicKey: Uint8Array; url: string | null }>();

  return {
    /** A registered vendor's public key and URL (cached: keys never change). */
    async party(id: string) {
      const hit = partyKeys.get(id);
      if (hit) return hit;
      const res = await fetch(`${root}/parties/${encodeURIComponent(id)}`, {
        signal: AbortSignal.timeout(o.timeoutMs ?? 10_000),
      });
      if (!res.ok)
        throw new BrokerError(res.status, 'unknown_party', `the broker does not know vendor ${id}`);
      const parsed = PartyAnswer.safeParse(await res.json());
      if (!parsed.success)
        throw new BrokerError(502, 'bad_broker_answer', 'unexpected answer from the broker to /parties');
      const party = { publicKey: fromBase64url(parsed.data.publicKey)!, url: parsed.data.url };
      partyKeys.set(id, party);
      return party;
    },
    claim: (chainId: string) => call('POST', '/directory/claim', ClaimAnswer, { chainId }),
    handover: (index: IndexMessage) =>
      call('POST', '/directory/handover', z.object({ granted: z.literal(true), ...Lease }), { index }),
    backup: (index: IndexMessage) =>
      call(
        'POST',
        '/directory/backup',
        z.object({ backupIndex: z.number(), refunding: z.boolean(), ...Lease }),
        { index },
      ),
    takeover: (chainId: string) => call('POST', '/directory/takeover', TakeoverAnswer, { chainId }),
    redeem: (claims: unknown[]) => call('POST', '/redemptions', RedeemAnswer, { claims }),
    /** The vendor's account at the broker: balance not yet paid out, and its payouts. */
    statement: () => call('GET', '/parties/me/statement', StatementAnswer),
    /** Server-side wallets: the sign-in code for a grant token, a charge to a grant, and its void. */
    walletToken: (code: string) => call('POST', '/wallet/token', WalletTokenAnswer, { code }),
    /** Charges a grant under the vendor's own charge id; resend with the same key if the answer is lost. */
    walletCharge: (input: {
      token: string;
      amount: bigint;
      resource: string;
      chargeId: string;
      key: string;
      payees?: readonly PayeeShare[];
    }) =>
      call(
        'POST',
        '/wallet/charges',
        WalletChargeAnswer,
        {
          token: input.token,
          chargeId: input.chargeId,
          amount: input.amount.toString(),
          resource: input.resource,
          ...(input.payees ? { payees: input.payees } : {}),
        },
        input.key,
      ),
    walletVoid: (chargeId: string) =>
      call(
        'POST',
        `/wallet/charges/${encodeURIComponent(chargeId)}/void`,
        z.object({ status: z.literal('voided') }),
        {},
      ),
    async keys() {
      const res = await fetch(`${root}/keys`, { signal: AbortSignal.timeout(o.timeoutMs ?? 10_000) });
      if (!res.ok)
        throw new BrokerError(res.status, 'broker_error', `the broker answered ${res.status} to /keys`);
      const parsed = KeysAnswer.safeParse(await res.json().catch(() => null));
      if (!parsed.success)
        throw new BrokerError(502, 'bad_broker_answer', 'unexpected answer from the broker to /keys');
      return parsed.data.keys.map((k) => ({ ...k, publicKey: fromBase64url(k.publicKey)! }));
    },
  };
}

export type BrokerClient = ReturnType<typeof createBrokerClient>;
