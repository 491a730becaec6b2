/**
 * The gate's answers and codes (docs/protocol.md §10): the protocol's codes beside the gate's own, each
 * with its HTTP status — the one error→status table of the vendor package.
 */
import { PROTOCOL_ERROR_STATUS, type ProtocolErrorCode } from '@netpay/protocol';

/** A response the gate answers with itself (402 with terms, or a 4xx explaining a refused payment). */
export interface GateAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: { code: string; message: string; terms?: unknown };
}

/**
 * The gate's own codes beside the protocol's, each with its HTTP status and meaning; the table in the
 * docs is generated from this (`npm run docs:codes`).
 */
export const GATE_ONLY_ERRORS = {
  payment_required: [402, 'No payment was sent: the body and the `NetPay-Terms` header carry the terms.'],
  insufficient_payment: [402, 'The coins are worth less than the price. Nothing is recorded.'],
  overpayment: [402, 'The coins are worth more than the price: pay exactly. Nothing is recorded.'],
  chain_unknown: [
    402,
    'The broker this vendor uses does not know the chain: pay with coins of an accepted broker.',
  ],
  chain_refunded: [
    402,
    'The chain was refunded or closed (or its refund is under way) and accepts no more payments: pay with another chain.',
  ],
  chain_not_held: [409, 'The chain could not be handed over from the vendor holding it; retry.'],
  chain_busy: [
    409,
    'Another vendor holds the chain under a live lease and does not answer: retry after `Retry-After` seconds, or pay with another chain.',
  ],
  lease_lost: [
    409,
    "This vendor's hold on the chain ended while the request ran. Nothing was charged; retry.",
  ],
  payment_conflict: [
    409,
    'Some of the coins were spent here already (part of a payment replayed), or another instance accepted them at the same moment. Nothing was charged.',
  ],
  spending_limit: [402, "Server-side wallet: the customer's cap for this vendor is reached."],
  wallet_insufficient_funds: [402, "Server-side wallet: the customer's broker balance is too low."],
  wallet_sign_in: [400, 'The server-side wallet sign-in callback came without a valid code or state.'],
  wallet_refused: [
    502,
    'Server-side wallet: the broker refused the charge for a reason the customer cannot fix.',
  ],
  payee_unknown: [
    500,
    'The price names a payee the broker does not know (a misconfigured price). Nothing was charged.',
  ],
  peer_frozen: [
    403,
    'P2P: the paying peer is frozen at the CIS (it spent coins twice) and is refused everywhere.',
  ],
  broker_unavailable: [
    503,
    'The broker was needed (first payment from a chain, a renewal, a hand-over) and could not be reached; retry.',
  ],
} as const satisfies Record<string, readonly [number, string]>;

/** Every code the gate answers with: the protocol's, then its own. */
export type GateErrorCode = ProtocolErrorCode | keyof typeof GATE_ONLY_ERRORS;

/** Every code's status (a new code without one fails to compile). */
export const GATE_ERROR_STATUS: Record<GateErrorCode, number> = {
  ...PROTOCOL_ERROR_STATUS,
  ...(Object.fromEntries(Object.entries(GATE_ONLY_ERRORS).map(([k, [status]]) => [k, status])) as Record<
    keyof typeof GATE_ONLY_ERRORS,
    number
  >),
};

/** The gate's answer for a code, at the code's status. */
export const answer = (
  code: GateErrorCode,
  message: string,
  extra: { headers?: Record<string, string>; terms?: unknown } = {},
): GateAnswer => ({
  status: GATE_ERROR_STATUS[code],
  headers: extra.headers ?? {},
  body: { code, message, ...(extra.terms ? { terms: extra.terms } : {}) },
});

/** A refusal that carries fresh terms, so the wallet can pay again with other coins (pay/terms.ts). */
export type Refuse = (code: GateErrorCode, message: string) => GateAnswer;

/** True for an answer (as opposed to a chain or a ticket a flow returns on success). */
export const isAnswer = (x: object): x is GateAnswer => 'status' in x && 'body' in x;
