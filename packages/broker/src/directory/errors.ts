/**
 * The chain directory's error codes and their HTTP statuses (the broker's table, errors.ts, spreads them).
 * Refunds answer chain_not_found and chain_refunded too: a refund is a hand-over to the broker.
 */
export const DIRECTORY_ERROR_STATUS = {
  chain_not_found: 404,
  chain_refunded: 409,
  chain_expired: 409,
  chain_not_held: 409,
  lease_active: 409,
  chain_refunding: 409,
  /** A chain a peer bought: P2P chains are held offline, never here (docs/p2p.md §3). */
  peer_chain: 409,
} as const satisfies Record<string, number>;

export type DirectoryErrorCode = keyof typeof DIRECTORY_ERROR_STATUS;
