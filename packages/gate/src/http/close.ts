/** Stopping a vendor's HTTP server without waiting forever for a connection a client keeps open. */
import type { FastifyInstance } from 'fastify';

/**
 * How long a stop waits for the connections still open (a request in flight, a client holding one open)
 * before it cuts them: a coin is journaled before its response leaves, so a cut loses none.
 */
export const STOP_GRACE_MS = 5_000;

export async function closeWithin(app: FastifyInstance, ms: number): Promise<void> {
  const cut = setTimeout(() => app.server.closeAllConnections(), ms);
  try {
    await app.close();
  } finally {
    clearTimeout(cut);
  }
}
