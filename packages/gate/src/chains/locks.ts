/**
 * Payments on one chain, one at a time inside this process (docs/protocol.md §7: a chain's coins are
 * accepted in order). Across processes over one database the store's compare-and-set does the same.
 */
export type ChainLocks = ReturnType<typeof createChainLocks>;

export function createChainLocks() {
  const locks = new Map<string, Promise<void>>();
  /** Waits for every named chain (in a fixed order: no deadlock); resolves with the unlock function. */
  return async function lock(chainIds: readonly string[]): Promise<() => void> {
    const releases: (() => void)[] = [];
    for (const id of [...chainIds].sort()) {
      const prior = locks.get(id) ?? Promise.resolve();
      let release!: () => void;
      const mine = new Promise<void>((r) => {
        release = r;
      });
      const tail = prior.then(() => mine);
      locks.set(id, tail);
      await prior;
      releases.push(() => {
        release();
        if (locks.get(id) === tail) locks.delete(id);
      });
    }
    return () => {
      for (const r of releases) r();
    };
  };
}
