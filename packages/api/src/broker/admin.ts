import { route } from '../route.ts';
import * as Q from './requests.ts';
import * as A from './responses.ts';

/** The operator's routes (docs/broker.md §6.7): Bearer admin token. */
export const adminRoutes = {
  audit: route({
    method: 'GET',
    path: '/admin/audit',
    summary: 'The ledger audit',
    auth: 'admin',
    responses: { 200: A.AuditAnswer },
  }),
  evidence: route({
    method: 'GET',
    path: '/admin/evidence',
    summary: 'Fraud evidence, newest 100',
    auth: 'admin',
    responses: { 200: A.EvidenceAnswer },
  }),
  chainAccount: route({
    method: 'GET',
    path: '/admin/chains/:chainId',
    summary: "One chain's money: bought + charged back = credited + refunded + unspent",
    auth: 'admin',
    params: Q.ChainIdParams,
    responses: { 200: A.ChainAccountAnswer },
    errors: ['chain_not_found'],
  }),
  settle: route({
    method: 'POST',
    path: '/admin/settlement/run',
    summary: 'Pay credited balances out to bank accounts',
    auth: 'admin',
    key: 'required',
    responses: { 200: A.SettlementRunAnswer },
    errors: ['bank_unavailable'],
  }),
  settlementRuns: route({
    method: 'GET',
    path: '/admin/settlement/runs',
    summary: 'Settlement runs, newest 50',
    auth: 'admin',
    responses: { 200: A.SettlementRunsAnswer },
  }),
  rotateKey: route({
    method: 'POST',
    path: '/admin/keys/rotate',
    summary: 'A new touchstone key; the old one is retired',
    auth: 'admin',
    key: 'required',
    responses: { 200: A.RotateAnswer },
  }),
  expire: route({
    method: 'POST',
    path: '/admin/expiry/run',
    summary: 'Close expired chains and refund their rest',
    auth: 'admin',
    key: 'required',
    responses: { 200: A.ExpiryAnswer },
  }),
  completeRefunds: route({
    method: 'POST',
    path: '/admin/refunds/run',
    summary: "Complete refunds whose holder's lease has run out",
    auth: 'admin',
    key: 'required',
    responses: { 200: A.RefundsRunAnswer },
  }),
  reconcile: route({
    method: 'POST',
    path: '/admin/reconcile',
    summary: 'Finish pending loads and unloads',
    auth: 'admin',
    key: 'required',
    responses: { 200: A.ReconcileAnswer },
  }),
  invite: route({
    method: 'POST',
    path: '/admin/invitations',
    summary: 'An invitation to register one vendor or peer',
    auth: 'admin',
    key: 'required',
    body: Q.InvitationBody,
    responses: { 201: A.InvitationAnswer },
  }),
} as const;
