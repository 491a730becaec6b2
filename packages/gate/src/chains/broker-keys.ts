/**
 * The broker's published keys as this vendor last fetched them (docs/protocol.md §5): they check
 * touchstones and the broker's own hand-over requests, and the terms name them.
 */
import type { BrokerClient } from '../broker-client.ts';

export type BrokerKey = Awaited<ReturnType<BrokerClient['keys']>>[number];
export type BrokerKeys = ReturnType<typeof createBrokerKeys>;

export function createBrokerKeys(broker: BrokerClient) {
  let keys: readonly BrokerKey[] = [];
  let asked: Promise<void> | undefined;
  const refresh = async () => {
    keys = await broker.keys();
  };
  return {
    list: () => keys,
    /** The keys of the broker this vendor knows first (the one its terms name). */
    current: () => keys.filter((k) => k.brokerId === keys[0]?.brokerId),
    refresh,
    /** One key, fetched again once when not known (the broker may have rotated). */
    async find(brokerId: string, keyId: string): Promise<Uint8Array | undefined> {
      const find = () => keys.find((k) => k.brokerId === brokerId && k.keyId === keyId)?.publicKey;
      if (!find()) await refresh();
      return find();
    },
    /**
     * Until the keys are first known, waits for them at most `ms` (best effort: a broker that is down
     * delays no request, and is asked again next time).
     */
    async warmUp(ms: number): Promise<void> {
      if (keys.length > 0) return;
      asked ??= refresh().catch(() => {
        asked = undefined;
      });
      await Promise.race([asked, new Promise((r) => setTimeout(r, ms))]);
    },
  };
}
