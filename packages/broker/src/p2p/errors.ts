/**
 * The error codes only the CIS raises (docs/p2p.md §2), with their HTTP statuses; the broker's table
 * (errors.ts) spreads them.
 */
export const P2P_ERROR_STATUS = {
  /** A vendor calling a peer's endpoint. */
  not_a_peer: 403,
  /** A peer frozen for a double spend buying coins. */
  peer_frozen: 403,
  /** A purchase past the peer's allowance (fairness.ts). */
  fairness_limit: 403,
  /** No reachable, unfrozen peer offers this file. */
  file_not_found: 404,
} as const satisfies Record<string, number>;

export type P2pErrorCode = keyof typeof P2P_ERROR_STATUS;
