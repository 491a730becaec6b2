/**
 * Taking a chain from the vendor holding it (docs/protocol.md §7.7): ask the holder to hand it over (a
 * signed request; the holder stops accepting it and signs an index to us), record the hand-over at the
 * broker, and hold the chain from that index. A holder that cannot be reached at all is bypassed: the
 * broker hands the chain over from its last backup once the holder's lease has run out.
 */
import { createClient, DEFAULT_HANDOVER_PATH, unanswered, vendorApi } from '@netpay/api';
import { keptAliveFetch } from '@netpay/api/node';
import {
  decodeMessage,
  fromBase64url,
  type HandoverRequest,
  type HandoverResponse,
  type IndexMessage,
  isNetPayError,
  NetPayError,
  randomBytes,
  signMessage,
  type Touchstone,
  toBase64url,
  verifyIndex,
  verifyMessageSignature,
} from '@netpay/protocol';
import { refusedByBroker } from '../broker-client.ts';
import type { GateContext } from '../deps.ts';
import { answer, type GateAnswer, isAnswer, type Refuse } from '../errors.ts';
import type { HeldChain } from '../store/store.ts';

export async function handoverFrom(
  ctx: GateContext,
  t: Touchstone,
  holder: { id: string; url: string | null },
  refuse: Refuse,
): Promise<HeldChain | GateAnswer> {
  // Take the chain over through the broker only when the holder cannot be reached at all: a holder that
  // answers (even with an error) is alive and may still be accepting the chain.
  const index = holder.url ? await askHolder(ctx, t, { id: holder.id, url: holder.url }) : undefined;
  if (index && isAnswer(index)) return index;
  const sentAt = ctx.clock();
  try {
    if (index) {
      return await handedOver(ctx, t, index, sentAt);
    }
    const taken = await ctx.broker.takeover(t.chainId);
    const start = taken.start ?? { index: 0, payword: t.root };
    const chain = await ctx.store.hold(t, { index: start.index, payword: fromBase64url(start.payword)! });
    ctx.keepLease(t.chainId, sentAt, taken.leaseMs);
    return chain;
  } catch (e) {
    return handoverRefused(e, holder.id, refuse);
  }
}

/**
 * Records the hand-over at the broker and, meanwhile, the holding here from the index handed over: no
 * coin of it is accepted before the broker's answer brings the lease. Refused there, the holding here
 * ends again, empty. (Not reached, the broker may have recorded it: the next payment's claim says.)
 */
async function handedOver(
  ctx: GateContext,
  t: Touchstone,
  index: IndexMessage,
  sentAt: number,
): Promise<HeldChain> {
  const start = { index: index.index, payword: fromBase64url(index.payword)! };
  const [done, chain] = await Promise.allSettled([ctx.broker.handover(index), ctx.store.hold(t, start)]);
  if (done.status === 'rejected') {
    if (chain.status === 'fulfilled' && refusedByBroker(done.reason))
      await ctx.store.releaseTakenOver(t.chainId);
    throw done.reason;
  }
  if (chain.status === 'rejected') throw chain.reason;
  ctx.keepLease(t.chainId, sentAt, done.value.leaseMs);
  return chain.value;
}

/** The broker's refusal of a hand-over or take-over, in the gate's codes. */
function handoverRefused(e: unknown, holderId: string, refuse: Refuse): GateAnswer {
  if (isNetPayError(e, 'lease_active')) {
    // The holder does not answer but may still be accepting: nobody else may take the chain yet.
    const retryAfter = Number(e.details?.retryAfter ?? 1);
    return answer(
      'chain_busy',
      `vendor ${holderId} holds this chain and does not answer; retry in ${retryAfter} s or pay with another chain`,
      { headers: { 'retry-after': String(retryAfter) } },
    );
  }
  if (isNetPayError(e, 'chain_refunded', 'chain_refunding', 'chain_expired'))
    return refuse('chain_refunded', `this chain accepts no more payments: ${e.message}`);
  if (refusedByBroker(e)) return answer('chain_not_held', `the broker refused the hand-over: ${e.message}`);
  return answer('broker_unavailable', 'the broker cannot be reached to hand this chain over; try again');
}

/**
 * The holder's hand-over: the index it signed over to us; undefined when nothing answered (unreachable or
 * too slow); a refusal when it answered with anything but a valid hand-over.
 */
async function askHolder(
  ctx: GateContext,
  t: Touchstone,
  holder: { id: string; url: string },
): Promise<IndexMessage | GateAnswer | undefined> {
  const request = signMessage(
    'handover-request',
    {
      v: 1,
      chainId: t.chainId,
      holder: holder.id,
      requester: ctx.vendorId,
      nonce: toBase64url(randomBytes(16)),
      issuedAt: Math.floor(ctx.clock() / 1000),
    },
    ctx.signer,
  );
  // What the holder answered: its hand-over response, null for an answer that is not one (an error, a
  // bad body).
  let res: unknown;
  let status = 200;
  try {
    res = await handoverClient(ctx, holder.url).handover({ body: request });
  } catch (e) {
    if (unanswered(e)) return undefined;
    res = null;
    status = e instanceof NetPayError ? (e.status ?? 0) : 0;
  }
  const decoded = res ? decodeMessage('handover-response', res) : undefined;
  let key: Uint8Array | undefined;
  try {
    key = decoded?.ok ? (await ctx.broker.party(holder.id)).publicKey : undefined;
  } catch {
    return answer('broker_unavailable', 'the broker cannot be reached to check the hand-over; try again');
  }
  if (!decoded?.ok || key === undefined || !validHandover(ctx, t, request, holder.id, decoded.value, key)) {
    return answer(
      'chain_not_held',
      `vendor ${holder.id} did not hand this chain over (HTTP ${status}); retry the payment`,
    );
  }
  return decoded.value.index;
}

/** A hand-over response answers our request and carries an index the holder signed over to us. */
function validHandover(
  ctx: GateContext,
  t: Touchstone,
  request: HandoverRequest,
  holderId: string,
  res: HandoverResponse,
  key: Uint8Array,
): boolean {
  return (
    res.chainId === t.chainId &&
    res.nonce === request.nonce &&
    res.index.vendorId === holderId &&
    verifyMessageSignature('handover-response', res, key) &&
    verifyIndex(res.index, { vendorKey: key, chainId: t.chainId, handedTo: ctx.vendorId, touchstone: t }).ok
  );
}

/** Another vendor's hand-over route: the contract's (vendorApi.handover), at the configured path. */
const handoverClient = (ctx: GateContext, url: string) =>
  createClient(
    { handover: { ...vendorApi.handover, path: ctx.handoverPath ?? DEFAULT_HANDOVER_PATH } },
    { url, name: 'the holder', timeoutMs: ctx.handoverTimeoutMs, fetch: keptAliveFetch },
  );
