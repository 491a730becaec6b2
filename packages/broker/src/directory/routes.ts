/** The chain directory: claims, hand-overs, backups and take-overs, signed by vendors (docs/broker.md §6.5, §9). */
import { brokerApi as B, type Route } from '@netpay/api';
import { type Routable, type RouteRequest, serve } from '@netpay/service';
import type { RouteDeps } from '../http.ts';

export function directoryRoutes(app: Routable, d: RouteDeps) {
  const { directory, party, keyed } = d;
  // Directory calls: signed by the vendor, keyed, one service call each.
  const signedRoute = <R extends Route>(
    r: R,
    run: (partyId: string, b: RouteRequest<R>['body']) => Promise<unknown>,
  ) =>
    serve(app, r, async (req, reply) => {
      const id = await party(req);
      return keyed(req, reply, `${r.path}:${id}`, async () => ({ body: await run(id, req.body) }));
    });
  signedRoute(B.claim, (id, b) => directory.claim(id, b.chainId));
  signedRoute(B.handover, (id, b) => directory.handover(id, b.index));
  signedRoute(B.backup, (id, b) => directory.backup(id, b.index));
  signedRoute(B.takeover, (id, b) => directory.takeover(id, b.chainId));
}
