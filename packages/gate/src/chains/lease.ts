/**
 * A holding is a lease (docs/protocol.md §7.3): the broker grants a vendor a chain for `leaseMs`; the
 * vendor stops accepting its coins a margin sooner, counted from when it sent the request that got it.
 */

/**
 * Until when (local ms) a vendor may accept coins under a lease of `leaseMs` granted to a request sent at
 * `sentAt`: the margin, at most a fifth of a short lease, covers clock rate and the check-to-commit time.
 */
export const leaseEnd = (sentAt: number, leaseMs: number, marginMs: number) =>
  sentAt + leaseMs - Math.min(marginMs, leaseMs / 5);
