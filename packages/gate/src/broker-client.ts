import { type BrokerAnswers, brokerApi, createClient, type RouteInput } from '@netpay/api';
import { keptAliveFetch } from '@netpay/api/node';
import {
  type Ed25519Signer,
  fromBase64url,
  type IndexMessage,
  NetPayError,
  type PayeeShare,
} from '@netpay/protocol';
import { signRequest } from '@netpay/service';
import type { z } from 'zod';

/**
 * The vendor's calls to the broker (directory, redemption, keys, server-side wallets): the broker
 * contract's client (@netpay/api), signed with the vendor's key, with answers in the vendor's terms
 * (bigint balances, decoded keys). A refusal or an unreachable broker is a NetPayError (status 503 when
 * nothing answered).
 */
export type ClaimAnswer = z.infer<typeof BrokerAnswers.ClaimAnswer>;
export type WalletCharge = z.infer<typeof BrokerAnswers.WalletChargeAnswer>;

/**
 * The broker refused (it answered with a 4xx): the same request will not fare better. Anything else it
 * throws is an outage (status 503 when nothing answered, 5xx when the broker failed): worth a retry.
 */
export const refusedByBroker = (e: unknown): e is NetPayError & { readonly status: number } =>
  e instanceof NetPayError && e.status !== undefined && e.status < 500;

/** The broker answered with this status (404: it does not know the party, charge, chain…). */
export const brokerSaid = (e: unknown, status: number): e is NetPayError =>
  e instanceof NetPayError && e.status === status;

export interface BrokerClientOptions {
  readonly url: string;
  readonly vendorId: string;
  readonly signer: Ed25519Signer;
  readonly clock?: () => number;
  readonly timeoutMs?: number;
}

export function createBrokerClient(o: BrokerClientOptions) {
  const clock = o.clock ?? Date.now;
  const api = createClient(brokerApi, {
    url: o.url,
    name: 'the broker',
    timeoutMs: o.timeoutMs ?? 10_000,
    // Kept-alive connections: a hand-over calls the broker twice, and backups run all the time.
    fetch: keptAliveFetch,
    sign: (req) => signRequest(o.signer, o.vendorId, req, Math.floor(clock() / 1000)),
  });
  const partyKeys = new Map<string, { publicKey: Uint8Array; url: string | null }>();

  return {
    /** A registered vendor's public key and URL (cached: keys never change). */
    async party(id: string) {
      const hit = partyKeys.get(id);
      if (hit) return hit;
      const p = await api.party({ params: { id } });
      const party = { publicKey: fromBase64url(p.publicKey)!, url: p.url };
      partyKeys.set(id, party);
      return party;
    },
    /** Registers (or updates) this vendor, signed with the key being registered (docs/broker.md §6.4). */
    register: (body: RouteInput<typeof brokerApi.registerParty>['body'], key?: string) =>
      api.registerParty({ body, ...(key ? { key } : {}) }),
    claim: (chainId: string) => api.claim({ body: { chainId } }),
    handover: (index: IndexMessage) => api.handover({ body: { index } }),
    backup: (index: IndexMessage) => api.backup({ body: { index } }),
    takeover: (chainId: string) => api.takeover({ body: { chainId } }),
    redeem: (claims: unknown[]) => api.redeem({ body: { claims } }),
    /** The vendor's account at the broker: balance not yet paid out, and its payouts. */
    async statement() {
      const s = await api.partyStatement({});
      return { ...s, balance: BigInt(s.balance) };
    },
    /** Server-side wallets: the sign-in code for a grant token, a charge to a grant, and its void. */
    walletToken: (code: string) => api.walletToken({ body: { code } }),
    /** Charges a grant under the vendor's own charge id; resend with the same key if the answer is lost. */
    walletCharge: (input: {
      token: string;
      amount: bigint;
      resource: string;
      chargeId: string;
      key: string;
      payees?: readonly PayeeShare[];
    }) =>
      api.walletCharge({
        key: input.key,
        body: {
          token: input.token,
          chargeId: input.chargeId,
          amount: input.amount.toString(),
          resource: input.resource,
          ...(input.payees ? { payees: [...input.payees] } : {}),
        },
      }),
    walletVoid: (chargeId: string) => api.walletVoid({ params: { chargeId } }),
    async keys() {
      const { keys } = await api.keys({});
      return keys.map((k) => ({ ...k, publicKey: fromBase64url(k.publicKey)! }));
    },
  };
}

export type BrokerClient = ReturnType<typeof createBrokerClient>;
