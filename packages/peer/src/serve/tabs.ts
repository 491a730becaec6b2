/**
 * Serving ahead of payment (docs/p2p.md §3, "Debt"; Swarm's SWAP thresholds): a seller serves a known
 * payer up to `debtChunks` chunks before they are paid, so the payer can ask for the next chunk while it
 * still checks the last one. The tab is kept per chain the payer pays this seller with (a chain this peer
 * holds, so the payer has paid it before); a later paid request on it may pay the tab too. The most one
 * payer can take unpaid is `debtChunks` chunks.
 */

/** Chunks served on a chain's tab and not yet paid. */
export function createTabs(debtChunks: number) {
  const owed = new Map<string, number>();
  return {
    debtChunks,
    /** Opens one more chunk on the chain's tab if it stays within the threshold; false if it would not. */
    take(chainId: string): boolean {
      const now = owed.get(chainId) ?? 0;
      if (now + 1 > debtChunks) return false;
      owed.set(chainId, now + 1);
      return true;
    },
    /** Chunks on the tab now. */
    owed: (chainId: string) => owed.get(chainId) ?? 0,
    /** A paid request covered `chunks` chunks of the tab besides its own. */
    settle(chainId: string, chunks: number) {
      const left = (owed.get(chainId) ?? 0) - chunks;
      if (left > 0) owed.set(chainId, left);
      else owed.delete(chainId);
    },
  };
}
export type Tabs = ReturnType<typeof createTabs>;
