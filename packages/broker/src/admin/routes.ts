/** The operator's routes: audit, evidence, chain accounts, jobs and invitations (docs/broker.md §6.7). */
import { brokerApi as B, type Route } from '@netpay/api';
import { type Routable, serve } from '@netpay/service';
import { fail } from '../errors.ts';
import type { RouteDeps } from '../http.ts';
import { auditLedger } from '../ledger/ledger.ts';

export function adminRoutes(app: Routable, d: RouteDeps) {
  const { keys, parties, issuance, fraud, redemption, refunds, settlement, admin, keyed, db } = d;
  serve(app, B.audit, async (req) => {
    await admin(req);
    return auditLedger(db);
  });
  serve(app, B.evidence, async (req) => {
    await admin(req);
    return { evidence: await fraud.evidence() };
  });
  serve(app, B.chainAccount, async (req) => {
    await admin(req);
    const account = await redemption.chainAccount(req.params.chainId);
    if (!account) throw fail('chain_not_found', `no chain ${req.params.chainId}`);
    return account;
  });
  // Operator jobs: admin token, keyed, one service call each.
  const adminJob = (r: Route, run: () => Promise<unknown>) =>
    serve(app, r, async (req, reply) => {
      await admin(req);
      return keyed(req, reply, r.path, async () => ({ body: await run() }));
    });
  adminJob(B.settle, () => settlement.run());
  adminJob(B.rotateKey, async () => ({ keyId: (await keys.rotate()).keyId }));
  adminJob(B.expire, () => refunds.closeExpired());
  adminJob(B.completeRefunds, () => refunds.completePending());
  adminJob(B.reconcile, () => issuance.reconcile());
  serve(app, B.invite, async (req, reply) => {
    await admin(req);
    return keyed(req, reply, '/admin/invitations', async () => ({
      status: 201,
      body: await parties.invite(req.body),
    }));
  });
  serve(app, B.settlementRuns, async (req) => {
    await admin(req);
    return { runs: await settlement.runs() };
  });
}
