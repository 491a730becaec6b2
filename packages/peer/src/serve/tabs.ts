/**
 * Serving ahead of payment (docs/p2p.md §3, "Debt"; Swarm's SWAP thresholds): a seller serves a known
 * payer up to `debtChunks` chunks before they are paid, so the payer can ask for the next chunk while it
 * still checks the last. The tab is kept per payer (known by a chain of its this peer holds, so it has paid
 * here before), as the price of each chunk served on it; a later paid request naming the tab may pay it
 * too, oldest chunks first. The most one payer can take unpaid is `debtChunks` chunks.
 */
export function createTabs(debtChunks: number) {
  const tabs = new Map<string, bigint[]>();
  return {
    debtChunks,
    /** Puts one more chunk at `price` on the payer's tab if it stays within the threshold; false if not. */
    take(payer: string, price: bigint): boolean {
      const tab = tabs.get(payer) ?? [];
      if (tab.length + 1 > debtChunks) return false;
      tab.push(price);
      tabs.set(payer, tab);
      return true;
    },
    /** A chunk put on the tab was not served after all: it comes off again. */
    untake(payer: string): void {
      const tab = tabs.get(payer);
      tab?.pop();
      if (tab?.length === 0) tabs.delete(payer);
    },
    /** What the payer's tab comes to, minor units. */
    owed: (payer: string): bigint => (tabs.get(payer) ?? []).reduce((a, b) => a + b, 0n),
    /** `amount` paid toward the payer's tab: the chunks it covers come off, oldest first. */
    settle(payer: string, amount: bigint): void {
      const tab = tabs.get(payer);
      if (!tab) return;
      let left = amount;
      while (tab.length > 0 && left >= tab[0]!) left -= tab.shift()!;
      if (tab.length === 0) tabs.delete(payer);
    },
  };
}
export type Tabs = ReturnType<typeof createTabs>;
