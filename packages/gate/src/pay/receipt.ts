/**
 * The receipt of an accepted payment (docs/protocol.md §6.5): which coins of which chains, the amount, the
 * payees' shares of a multi-party price, the request's Idempotency-Key. Signed by the vendor only when
 * the client asked (`NetPay-Receipt-Signature: ed25519`): one signature per paid request is not free.
 */
import { allocate, money, type Receipt, signMessage } from '@netpay/protocol';
import type { GateContext } from '../deps.ts';
import { type GateRequest, type Price, requestId, wantsSignedReceipt } from '../request.ts';
import type { ChainAdvance } from './ticket.ts';

export function makeReceipt(
  ctx: GateContext,
  req: GateRequest,
  price: Price,
  advances: readonly ChainAdvance[],
  total: bigint,
  now: number,
): Receipt {
  const id = requestId(req);
  const receipt: Receipt = {
    v: 1,
    vendorId: ctx.vendorId,
    parts: advances.map((a) => ({
      chainId: a.chain.chainId,
      index: a.toIndex,
      coins: a.toIndex - a.fromIndex,
    })),
    amount: total.toString(),
    currency: ctx.cur.code,
    exponent: ctx.cur.exponent,
    ...(price.payees ? { payees: payeeAmounts(ctx, price, total) } : {}),
    ...(id ? { requestId: id } : {}),
    issuedAt: now,
  };
  return wantsSignedReceipt(req) ? signMessage('receipt', receipt, ctx.signer) : receipt;
}

/** Each payee's share of the total, in minor units that add up to it exactly (largest remainder). */
function payeeAmounts(ctx: GateContext, price: Price, total: bigint) {
  const payees = price.payees ?? [];
  const shares = allocate(
    money(total, ctx.cur),
    payees.map((p) => BigInt(p.share)),
  );
  return payees.map((p, k) => ({ payeeId: p.payeeId, share: p.share, amount: shares[k]!.minor.toString() }));
}
