/** Redemption of vendors' claims (docs/broker.md §6.6, §10). */
import { brokerApi as B } from '@netpay/api';
import { type Routable, serve } from '@netpay/service';
import type { RouteDeps } from '../http.ts';

export function redemptionRoutes(app: Routable, d: RouteDeps) {
  const { redemption, party, keyedTx } = d;
  serve(app, B.redeem, async (req, reply) => {
    const id = await party(req);
    return keyedTx(req, reply, `redeem:${id}`, async (tx) => ({
      body: { results: await redemption.redeem(tx, id, req.body.claims) },
    }));
  });
}
