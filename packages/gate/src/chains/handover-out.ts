/**
 * Handing a chain on to the vendor that asks for it (docs/protocol.md §7.7), or to the broker for a
 * refund (§8.6): the request must be addressed to this vendor, fresh, never seen, and signed by the
 * requester's registered key (a vendor's, or one of the broker's published keys). Payments in flight on
 * the chain finish first; then the chain accepts no more coins here and the answer is an index signed over
 * to the requester. Asked again by the same requester (its first answer was lost), the same index.
 */
import {
  decodeMessage,
  type HandoverRequest,
  type IndexMessage,
  signMessage,
  toBase64url,
  verifyMessageSignature,
} from '@netpay/protocol';
import { brokerSaid } from '../broker-client.ts';
import type { GateContext } from '../deps.ts';

/** What the hand-over route answers: the signed response, or `{ code, message }`. */
export interface HandoverAnswer {
  readonly status: number;
  readonly body: unknown;
}

/** How many recent hand-overs and request nonces are remembered. */
const REMEMBERED = 10_000;

export function createHandoverServer(ctx: GateContext) {
  /** Hand-overs this vendor made, by chain: a repeated request from the same requester gets the same index. */
  const handedOn = new Map<string, { requester: string; index: IndexMessage }>();
  /** Nonces of recent hand-over requests (bounded): a replayed request is refused. */
  const seenNonces = new Set<string>();
  const refuse = (status: number, code: string, message: string) => ({ status, body: { code, message } });

  return async function serveHandover(body: unknown): Promise<HandoverAnswer> {
    const decoded = decodeMessage('handover-request', body);
    if (!decoded.ok) return refuse(400, 'malformed', decoded.error.message);
    const req = decoded.value;
    if (req.holder !== ctx.vendorId)
      return refuse(403, 'wrong_recipient', `this is ${ctx.vendorId}, not ${req.holder}`);
    const now = Math.floor(ctx.clock() / 1000);
    if (Math.abs(req.issuedAt - now) > 300)
      return refuse(403, 'stale_request', 'issuedAt is more than 300 s away');
    if (seenNonces.has(req.nonce))
      return refuse(409, 'replayed_request', 'this hand-over request was already served');
    const checked = await checkRequester(ctx, req);
    if (checked) return refuse(checked.status, checked.code, checked.message);
    if (seenNonces.size >= REMEMBERED) seenNonces.delete(seenNonces.values().next().value!);
    seenNonces.add(req.nonce);
    const release = await ctx.lock([req.chainId]);
    try {
      const index = await handOn(req, now);
      if (!index) return refuse(409, 'chain_not_held', 'this vendor does not hold the chain');
      const res = { v: 1 as const, chainId: req.chainId, nonce: req.nonce, index };
      return { status: 200, body: signMessage('handover-response', res, ctx.signer) };
    } finally {
      release();
    }
  };

  /** Stops accepting the chain and signs its last index over to the requester (or repeats that index). */
  async function handOn(req: HandoverRequest, now: number): Promise<IndexMessage | undefined> {
    const chain = await ctx.store.get(req.chainId);
    const earlier = handedOn.get(req.chainId);
    if (chain?.status !== 'held')
      return earlier && earlier.requester === req.requester && chain?.status === 'handed'
        ? earlier.index
        : undefined;
    const final = (await ctx.store.release(req.chainId))!;
    const index = signMessage(
      'index',
      {
        v: 1,
        chainId: req.chainId,
        index: final.acceptedIndex,
        payword: toBase64url(final.acceptedPayword),
        vendorId: ctx.vendorId,
        handedTo: req.requester,
        issuedAt: now,
      },
      ctx.signer,
    );
    if (handedOn.size >= REMEMBERED) handedOn.delete(handedOn.keys().next().value!);
    handedOn.set(req.chainId, { requester: req.requester, index });
    return index;
  }
}

/**
 * Checks a hand-over request's signature: a vendor's under its registered key, or the broker's under one
 * of its published keys. Undefined when it verifies.
 */
async function checkRequester(
  ctx: GateContext,
  req: HandoverRequest,
): Promise<{ status: number; code: string; message: string } | undefined> {
  const bad = {
    status: 403,
    code: 'bad_signature',
    message: 'the hand-over request signature does not verify',
  };
  try {
    const keys = ctx.keys;
    if (keys.list().length === 0 || keys.list().some((k) => k.brokerId === req.requester)) {
      // The broker signs with its current key, which may be newer than the ones this vendor has seen.
      const known = () => keys.list().filter((k) => k.brokerId === req.requester);
      const verifies = () =>
        known().some((k) => verifyMessageSignature('handover-request', req, k.publicKey));
      if (verifies()) return undefined;
      await keys.refresh();
      if (known().length > 0) return verifies() ? undefined : bad;
    }
    const key = (await ctx.broker.party(req.requester)).publicKey;
    return verifyMessageSignature('handover-request', req, key) ? undefined : bad;
  } catch (e) {
    if (brokerSaid(e, 404))
      return { status: 403, code: 'wrong_vendor_key', message: `the broker does not know ${req.requester}` };
    return {
      status: 503,
      code: 'broker_unavailable',
      message: 'the broker cannot be reached to check the requester',
    };
  }
}
