/**
 * The refund's hand-over (docs/protocol.md §8.6): the broker asks the chain's holder to hand the chain
 * over to it, with a request signed by the broker's key, and checks the final index the holder signs
 * back. Without a valid answer the refund waits for the holder's lease instead (service.ts).
 */
import { createClient, vendorApi } from '@netpay/api';
import type { Queryable } from '@netpay/db';
import {
  decodeMessage,
  fromBase64url,
  type IndexMessage,
  randomBytes,
  signMessage,
  toBase64url,
  verifyIndex,
  verifyMessageSignature,
} from '@netpay/protocol';
import { nowSeconds } from '../context.ts';
import type { RefundableChain } from '../directory/store.ts';
import type { PartyService } from '../parties/service.ts';
import type { RefundDeps } from './deps.ts';

/**
 * Sends the holder the broker's hand-over request and checks its answer: the holder's final index,
 * signed over to the broker. Undefined when the holder does not answer, or answers anything else.
 */
export async function askHolder(d: RefundDeps, c: RefundableChain): Promise<IndexMessage | undefined> {
  if (!c.holder) return undefined;
  let holder: Awaited<ReturnType<PartyService['get']>>;
  try {
    holder = await d.parties.get(c.holder);
  } catch {
    return undefined;
  }
  if (!holder.url) return undefined;
  const { signer } = await d.keys.currentKey();
  const request = signMessage(
    'handover-request',
    {
      v: 1,
      chainId: c.chain_id,
      holder: c.holder,
      requester: d.config.brokerId,
      nonce: toBase64url(randomBytes(16)),
      issuedAt: nowSeconds(d),
    },
    signer,
  );
  try {
    const holderApi = createClient(vendorApi, {
      url: holder.url,
      name: `the holder ${c.holder}`,
      timeoutMs: d.config.handoverTimeoutMs,
    });
    const decoded = decodeMessage('handover-response', await holderApi.handover({ body: request }));
    if (!decoded.ok) return undefined;
    const r = decoded.value;
    const key = fromBase64url(holder.publicKey)!;
    const valid =
      r.chainId === c.chain_id &&
      r.nonce === request.nonce &&
      r.index.vendorId === c.holder &&
      verifyMessageSignature('handover-response', r, key);
    return valid ? r.index : undefined;
  } catch {
    return undefined; // unreachable, too slow or refused: the lease decides
  }
}

/** Whether the holder's final index is authentic and lies on the chain at or past the last backup. */
export async function validFinal(
  d: RefundDeps,
  tx: Queryable,
  c: RefundableChain,
  index: IndexMessage,
): Promise<boolean> {
  if (index.vendorId !== c.holder || index.index < c.backup_index) return false;
  const key = await d.parties.publicKey(index.vendorId, tx);
  if (!key) return false;
  const anchor = c.backup_message
    ? { index: c.backup_message.index, payword: fromBase64url(c.backup_message.payword)! }
    : { index: 0, payword: fromBase64url(c.touchstone.root)! };
  return verifyIndex(index, {
    vendorKey: key,
    chainId: c.chain_id,
    handedTo: d.config.brokerId,
    touchstone: c.touchstone,
    anchor,
  }).ok;
}
