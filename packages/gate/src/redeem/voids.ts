/** Server-side wallet charges whose void could not reach the broker when their response failed. */
import { refusedByBroker } from '../broker-client.ts';
import type { RedeemerDeps } from './deps.ts';

/**
 * Voids the server-side wallet charges whose void could not reach the broker when their response failed.
 * A charge the broker never made ends the matter too; one it refuses to void is kept as owed.
 */
export async function voidCharges(d: RedeemerDeps) {
  let voided = 0;
  let refused = 0;
  for (const chargeId of await d.store.voidsPending()) {
    try {
      await d.broker.walletVoid(chargeId);
    } catch (e) {
      if (!refusedByBroker(e)) continue; // still unreachable: next round
      if (e.code !== 'not_found') {
        // The broker will not (the money was paid out meanwhile): kept on record as owed.
        await d.store.markVoided(chargeId, 'void_refused');
        refused++;
        continue;
      }
      // not_found: the charge was never made; nothing to void.
    }
    await d.store.markVoided(chargeId);
    voided++;
  }
  return { voided, refused };
}
