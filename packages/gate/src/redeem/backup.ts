/**
 * Backups of the chains in use at the broker (docs/protocol.md §8.4): a signed index for every held chain
 * that advanced, so a take-over after this vendor goes down starts from there. Each one renews the
 * chain's lease; a chain the broker moved on or refunded is found out here and stops being accepted.
 */
import { isNetPayError, signMessage, toBase64url } from '@netpay/protocol';
import { leaseEnd } from '../chains/lease.ts';
import type { HeldChain } from '../store/store.ts';
import type { RedeemerDeps } from './deps.ts';

/** What the backups remember between rounds (in memory). */
export interface BackupState {
  /** The index last backed up per chain. */
  readonly backedUp: Map<string, number>;
  /** The broker's lease length, as its last renewal said: backups run at least three times a lease. */
  leaseMs: number;
  /** Where the sweep of every held chain after a start has got to; null once it is done. */
  sweep: string | null;
}

export const backupState = (): BackupState => ({
  backedUp: new Map(),
  leaseMs: Number.POSITIVE_INFINITY,
  sweep: '',
});

/**
 * Pushes a signed index for every held chain that advanced since its last backup; each push renews the
 * chain's lease (idle chains' leases run out, and their next payment renews them at the broker). After a
 * start it also sweeps every held chain once (1,000 a round): a chain the broker moved on or refunded
 * while this vendor was away is found out here and stops being accepted. P2P holdings (docs/p2p.md §3)
 * have no lease and are left out.
 */
export async function backup(d: RedeemerDeps, st: BackupState) {
  let pushed = 0;
  const due = await d.store.heldChains(1000);
  let swept: HeldChain[] = [];
  if (st.sweep !== null) {
    swept = await d.store.heldChainsAfter(st.sweep, 1000);
    st.sweep = swept.length === 1000 ? swept.at(-1)!.chainId : null;
  }
  const seen = new Set<string>();
  for (const c of [...due, ...swept]) {
    // A chain held offline in P2P (from the payer's own index) is not in the broker's directory: no lease.
    if (seen.has(c.chainId) || c.startMessage) continue;
    seen.add(c.chainId);
    const fresh = (st.backedUp.get(c.chainId) ?? -1) < c.acceptedIndex;
    if (!fresh && !swept.includes(c)) continue;
    if (await backupChain(d, st, c)) pushed++;
  }
  return { pushed };
}

/** Backs up one chain and renews its lease; false if the broker refused or could not be reached. */
async function backupChain(d: RedeemerDeps, st: BackupState, c: HeldChain): Promise<boolean> {
  const index = signMessage(
    'index',
    {
      v: 1,
      chainId: c.chainId,
      index: c.acceptedIndex,
      payword: toBase64url(c.acceptedPayword),
      vendorId: d.vendorId,
      handedTo: null,
      issuedAt: Math.floor(d.clock() / 1000),
    },
    d.signer,
  );
  try {
    const sentAt = d.clock();
    const r = await d.broker.backup(index);
    if (!r.refunding && r.leaseMs > 0) st.leaseMs = r.leaseMs;
    // While the owner refunds the chain the lease is not renewed: what is left of it stands.
    d.store.setLease(c.chainId, leaseEnd(sentAt, r.leaseMs, d.leaseMarginMs));
    st.backedUp.set(c.chainId, c.acceptedIndex);
    await d.store.markBackedUp(c.chainId, c.acceptedIndex, c.acceptedPayword);
    return true;
  } catch (e) {
    // Moved on after this vendor's lease ran out, or refunded: stop accepting the chain here. What it
    // accepted (under its lease) stays its own to redeem.
    // Only the holding this backup was sent for: a chain handed away and back while the answer was on its
    // way is held anew here (the broker names this vendor again), and ending that holding under a payment
    // in flight would lose the payment's coins from SQL (issue 18 §5, the load run).
    if (isNetPayError(e, 'chain_not_held', 'chain_refunded', 'chain_expired') && (await sameHolding(d, c)))
      await d.store.releaseTakenOver(c.chainId);
    // otherwise the broker is unreachable: the next round tries again
    return false;
  }
}

/** Whether the chain is still held here from where it was when `c` was read (not held anew since). */
async function sameHolding(d: RedeemerDeps, c: HeldChain): Promise<boolean> {
  const now = await d.store.get(c.chainId);
  return now?.status === 'held' && now.startIndex === c.startIndex;
}
