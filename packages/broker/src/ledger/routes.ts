/** The customer's statement: the ledger entries of their account (docs/broker.md §6.2, §8). */
import { brokerApi as B } from '@netpay/api';
import { type Routable, serve } from '@netpay/service';
import { type RouteDeps, wire } from '../http.ts';
import { accountStatement, customerAccount } from '../ledger/ledger.ts';

export function statementRoutes(app: Routable, d: RouteDeps) {
  const { customer, db } = d;
  serve(app, B.statement, async (req) => {
    const s = await customer(req);
    const entries = await accountStatement(db, customerAccount(s.customerId));
    return { entries: entries.map((e) => ({ ...e, amount: wire(e.amount) })) };
  });
}
