/** Refunds of a chain's unspent rest (docs/broker.md §6.2, §12). */
import { brokerApi as B } from '@netpay/api';
import { type Routable, serve } from '@netpay/service';
import { type RouteDeps, wire } from '../http.ts';
import type { RefundPending } from './service.ts';

export function refundRoutes(app: Routable, d: RouteDeps) {
  const { refunds, customer, keyed } = d;
  serve(app, B.refund, async (req, reply) => {
    const s = await customer(req);
    // A pending refund (the holder's lease still runs) is answered 202 and not kept under the key:
    // asking again, with the same key or another, continues it.
    let pending: RefundPending | undefined;
    try {
      return await keyed(req, reply, `refund:${s.customerId}`, async () => {
        const r = await refunds.refund(s.customerId, req.params.chainId, req.body.spentIndex);
        if (r.status === 'pending') {
          pending = r;
          throw r;
        }
        return { body: { ...r, amount: wire(r.amount), balance: wire(r.balance) } };
      });
    } catch (e) {
      if (!pending || e !== pending) throw e;
      reply.header('retry-after', String(pending.retryAfter));
      return reply.status(202).send(pending);
    }
  });
}
