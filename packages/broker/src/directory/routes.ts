/** The chain directory: claims, hand-overs, backups and take-overs, signed by vendors (docs/broker.md §6.5, §9). */
import { brokerApi as B, type Route } from '@netpay/api';
import type { Queryable } from '@netpay/db';
import { type Routable, type RouteRequest, serve } from '@netpay/service';
import type { RouteDeps } from '../http.ts';

export function directoryRoutes(app: Routable, d: RouteDeps) {
  const { directory, party, keyedTx } = d;
  // Directory calls: signed by the vendor, keyed, one transaction each (the service call and its answer
  // kept under the key); `after` makes the reply from what was committed.
  const signedRoute = <R extends Route, T>(
    r: R,
    run: (partyId: string, b: RouteRequest<R>['body'], tx: Queryable) => Promise<T>,
    after: (out: T) => unknown = (out) => out,
  ) =>
    serve(app, r, async (req, reply) => {
      const id = await party(req);
      return after(
        await keyedTx(req, reply, `${r.path}:${id}`, async (tx) => ({ body: await run(id, req.body, tx) })),
      );
    });
  signedRoute(B.claim, (id, b, tx) => directory.claim(id, b.chainId, tx));
  // A hand-over during a refund is recorded, then refused (chain_refunding), the replay of its key too.
  signedRoute(B.handover, (id, b, tx) => directory.recordHandover(id, b.index, tx), directory.handedOver);
  signedRoute(B.backup, (id, b, tx) => directory.backup(id, b.index, tx));
  signedRoute(B.takeover, (id, b, tx) => directory.takeover(id, b.chainId, tx));
}
