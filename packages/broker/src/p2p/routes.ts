/** The CIS's endpoints (docs/p2p.md §2): the file index, a peer's figures and its purchases. */
import { brokerApi as B } from '@netpay/api';
import { type Routable, serve } from '@netpay/service';
import { newId } from '../context.ts';
import { type RouteDeps, wire } from '../http.ts';
import type { Offer } from './service.ts';

/** An offer on the wire: prices as decimal strings. */
const offerWire = (o: Offer) => ({ ...o, peers: o.peers.map((p) => ({ ...p, price: wire(p.price) })) });

export function p2pRoutes(app: Routable, d: RouteDeps) {
  const { p2p, party, keyedTx, amount, ctx } = d;
  serve(app, B.shareFiles, async (req, reply) => {
    const id = await party(req);
    const files = req.body.files.map((f) => ({ ...f, price: amount(f.price) }));
    return keyedTx(req, reply, `p2p-files:${id}`, async (tx) => ({
      body: await p2p.shareFiles(tx, id, files),
    }));
  });
  serve(app, B.searchFiles, async (req) => ({
    offers: (await p2p.search(req.query.q, req.query.limit)).map(offerWire),
  }));
  serve(app, B.fileOffer, async (req) => offerWire(await p2p.offer(req.params.fileId)));
  serve(app, B.chainOwner, async (req) => p2p.owner(req.params.chainId));
  serve(app, B.frozenPeers, async (req) => p2p.frozen(BigInt(req.query.since)));
  serve(app, B.peerStatus, async (req) => {
    const s = await p2p.status(await party(req));
    return {
      ...s,
      balance: wire(s.balance),
      earnings: wire(s.earnings),
      supply: wire(s.supply),
      demand: wire(s.demand),
      allowance: wire(s.allowance),
      remaining: wire(s.remaining),
    };
  });
  serve(app, B.peerBuy, async (req, reply) => {
    const id = await party(req);
    const orders = req.body.chains.map((c) => ({ ...c, coinValue: amount(c.coinValue) }));
    return keyedTx(req, reply, `p2p-buy:${id}`, async (tx) => ({
      status: 201,
      body: await p2p.buy(tx, id, orders, newId(ctx, 'buy')),
    }));
  });
}
