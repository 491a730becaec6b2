/** Money in and coins out: loads, unloads, buying chains and the customer's chains (docs/broker.md §6.2). */
import { brokerApi as B, BrokerRequests } from '@netpay/api';
import { type Routable, serve } from '@netpay/service';
import { newId } from '../context.ts';
import { fail } from '../errors.ts';
import { type RouteDeps, requireKey, wire } from '../http.ts';

export function issuanceRoutes(app: Routable, d: RouteDeps) {
  const { issuance, customer, keyed, keyedTx, amount, ctx } = d;
  // Loads and unloads move money at the bank once per movement (keyed by the Idempotency-Key); their first
  // answer is kept under the key too, so a retry gets it as it was (the balance then, not now).
  serve(app, B.load, async (req, reply) => {
    const s = await customer(req);
    const key = requireKey(req);
    return keyed(req, reply, `load:${s.customerId}`, async () => {
      const r = await issuance.load(s.customerId, { ...req.body, amount: amount(req.body.amount) }, key);
      return { body: { movementId: r.movementId, amount: wire(r.amount), balance: wire(r.balance) } };
    });
  });
  serve(app, B.unload, async (req, reply) => {
    const s = await customer(req);
    const key = requireKey(req);
    return keyed(req, reply, `unload:${s.customerId}`, async () => {
      const r = await issuance.unload(s.customerId, { ...req.body, amount: amount(req.body.amount) }, key);
      return { body: { movementId: r.movementId, amount: wire(r.amount), balance: wire(r.balance) } };
    });
  });
  serve(app, B.buy, async (req, reply) => {
    const s = await customer(req);
    const orders = req.body.chains.map((c) => ({ ...c, coinValue: amount(c.coinValue) }));
    return keyedTx(req, reply, `buy:${s.customerId}`, async (tx) => {
      const r = await issuance.buy(tx, s.customerId, orders, newId(ctx, 'buy'));
      return { status: 201, body: { chains: r.chains, total: wire(r.total), balance: wire(r.balance) } };
    });
  });
  serve(app, B.chains, async (req) => {
    const s = await customer(req);
    // One more than the page holds, to know whether there is a next page.
    const limit = req.query.limit ?? BrokerRequests.MAX_CHAINS_PAGE;
    const rows = await issuance.chains(s.customerId, undefined, {
      after: req.query.after ?? null,
      limit: limit + 1,
    });
    const page = rows.slice(0, limit);
    return {
      chains: page.map((c) => ({ ...c, coinValue: wire(c.coinValue) })),
      next: rows.length > limit ? (page.at(-1)?.chainId ?? null) : null,
    };
  });
  serve(app, B.chain, async (req) => {
    const s = await customer(req);
    const [c] = await issuance.chains(s.customerId, req.params.chainId);
    if (!c) throw fail('chain_not_found', 'you have no such chain');
    return { ...c, coinValue: wire(c.coinValue) };
  });
  serve(app, B.send, async (req, reply) => {
    const s = await customer(req);
    return keyedTx(req, reply, `send:${s.customerId}`, async (tx) => {
      const r = await issuance.send(
        tx,
        s.customerId,
        { to: req.body.to, amount: amount(req.body.amount) },
        newId(ctx, 'send'),
      );
      return { status: 201, body: { to: r.to, amount: wire(r.amount), balance: wire(r.balance) } };
    });
  });
}
