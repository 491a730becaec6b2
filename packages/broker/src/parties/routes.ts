/** Vendors and peers: registration, their keys, their statements (docs/broker.md §6.4). */
import { brokerApi as B } from '@netpay/api';
import { fromBase64url } from '@netpay/protocol';
import { originalBody, type Routable, SIGNATURE_HEADERS, serve, verifySignedRequest } from '@netpay/service';
import { nowSeconds } from '../context.ts';
import { fail } from '../errors.ts';
import type { RouteDeps } from '../http.ts';

export function partyRoutes(app: Routable, d: RouteDeps) {
  const { parties, redemption, party, keyed, ctx } = d;
  // Vendors and peers (signed requests)
  serve(app, B.registerParty, async (req, reply) => {
    const key = fromBase64url(req.body.publicKey)!;
    const signer = await verifySignedRequest(
      { method: req.method, path: req.url, body: originalBody(req) ?? null, headers: req.headers },
      async (id) => (id === req.body.id ? key : undefined),
      nowSeconds(ctx),
    );
    if (signer !== req.body.id)
      throw fail('forbidden', `sign the registration with ${SIGNATURE_HEADERS.keyId}: ${req.body.id}`);
    return keyed(req, reply, `party:${req.body.id}`, async () => ({
      status: 201,
      body: await parties.register(req.body),
    }));
  });
  serve(app, B.party, async (req) => {
    const p = await parties.get(req.params.id);
    return { id: p.id, kind: p.kind, name: p.name, publicKey: p.publicKey, url: p.url, frozen: p.frozen };
  });
  serve(app, B.partyStatement, async (req) => redemption.statement(await party(req)));
}
