/**
 * The claims to make (docs/protocol.md §9): every accepted, unredeemed range, earlier holdings' and the
 * current one's, cut where the payees change, signed, with a claim id derived from the range itself so a
 * claim resent after a lost answer is the same claim.
 */
import {
  type Claim,
  type IndexMessage,
  type PayeeShare,
  sha256,
  signMessage,
  toBase64url,
  utf8,
} from '@netpay/protocol';
import type { ChainStore, ClaimRow } from '../store/store.ts';
import type { RedeemerDeps } from './deps.ts';

export interface Range {
  chainId: string;
  from: { index: number; payword: string };
  to: { index: number; payword: string };
  /** Range of an earlier holding (vendor_ranges) rather than the current one. */
  earlier: boolean;
  /** An earlier holding's range: where its row starts (its key), at or before `from`. */
  rangeFrom?: number;
  /** Payees' shares of every coin in the range; absent: all the vendor's. */
  payees?: PayeeShare[];
  /** P2P: the payer's signed index the holding began at (docs/p2p.md §3), sent as the claim's `startIndex`. */
  startIndex?: IndexMessage;
  /** P2P: the payer's signed index at the range's end (its last payment's `paidIndex`): `endIndex`. */
  endIndex?: IndexMessage;
}

function claimId(vendorId: string, r: Range): string {
  return toBase64url(
    sha256(utf8(`${vendorId}\n${r.chainId}\n${r.from.index}\n${r.to.index}`)).subarray(0, 16),
  );
}

/**
 * Every accepted range not redeemed yet: earlier holdings' first, then the chains held now. An earlier
 * holding's range starts after what claims made while it was held carry already; one they carry whole is
 * empty (`from` = `to`): nothing to claim, only to mark done.
 */
export async function ranges(store: ChainStore): Promise<Range[]> {
  const earlier = (await store.pendingRanges()).map((r) => ({
    chainId: r.chain_id,
    from: { index: r.from_index, payword: r.from_payword },
    to: { index: r.to_index, payword: r.to_payword },
    earlier: true,
    rangeFrom: r.range_from,
    ...(r.start_message ? { startIndex: r.start_message } : {}),
    ...(r.end_message ? { endIndex: r.end_message } : {}),
  }));
  const current = (await store.unredeemed()).map((c) => ({
    chainId: c.chainId,
    from: { index: c.redeemedIndex, payword: toBase64url(c.redeemedPayword) },
    to: { index: c.acceptedIndex, payword: toBase64url(c.acceptedPayword) },
    earlier: false,
    ...(c.startMessage ? { startIndex: c.startMessage } : {}),
    ...(c.endMessage ? { endIndex: c.endMessage } : {}),
  }));
  return [...earlier, ...current];
}

/**
 * Cuts a range where the payees change: each run of payments made at one set of payees' shares becomes
 * a claim of its own carrying those shares, so the broker credits every payee its share of exactly the
 * coins paid at that price. Coins between multi-party payments are the vendor's.
 */
export async function byPayees(store: ChainStore, r: Range): Promise<Range[]> {
  const runs = await store.payeeRuns(r.chainId, r.from.index, r.to.index);
  if (runs.length === 0) return [r];
  const out: Range[] = [];
  let at = r.from;
  const push = (to: { index: number; payword: string }, payees?: string) => {
    const last = out.at(-1);
    const shares = payees === undefined ? undefined : (JSON.parse(payees) as PayeeShare[]);
    if (last && last.to.index === at.index && JSON.stringify(last.payees) === JSON.stringify(shares)) {
      last.to = to;
    } else {
      out.push({ ...r, from: at, to, ...(shares ? { payees: shares } : {}) });
    }
    at = to;
  };
  for (const run of runs) {
    if (run.fromIndex < at.index) continue; // began before this range (a take-over start): the vendor's
    if (run.fromIndex > at.index) push({ index: run.fromIndex, payword: run.fromPayword });
    push({ index: run.toIndex, payword: run.payword }, run.payees);
  }
  if (at.index < r.to.index) push(r.to);
  return out;
}

/** The signed claim for a range, as the store writes it down before it is sent. */
export function claimRow(d: RedeemerDeps, r: Range): ClaimRow & { claim: Claim } {
  const claim: Claim = signMessage(
    'claim',
    {
      v: 1,
      claimId: claimId(d.vendorId, r),
      vendorId: d.vendorId,
      chainId: r.chainId,
      from: r.from,
      to: r.to,
      ...(r.startIndex ? { startIndex: r.startIndex } : {}),
      ...(r.endIndex ? { endIndex: r.endIndex } : {}),
      ...(r.payees ? { payees: r.payees } : {}),
      issuedAt: Math.floor(d.clock() / 1000),
    },
    d.signer,
  );
  return {
    claim_id: claim.claimId,
    chain_id: r.chainId,
    from_index: r.from.index,
    to_index: r.to.index,
    earlier: r.earlier,
    claim,
  };
}
