import { route } from '../route.ts';
import * as Q from './requests.ts';
import * as A from './responses.ts';

/** Vendors and peers (docs/broker.md §6.4–6.6): registration, directory, redemption. Signed requests. */
export const partyRoutes = {
  registerParty: route({
    method: 'POST',
    path: '/parties',
    summary: 'Register or update a vendor or peer (signed with the key registered)',
    auth: 'party',
    key: 'required',
    body: Q.PartyBody,
    responses: { 201: A.RegisteredPartyAnswer },
    errors: ['party_exists', 'invitation_required', 'invitation_invalid', 'forbidden'],
  }),
  partyStatement: route({
    method: 'GET',
    path: '/parties/me/statement',
    summary: "The party's balance, redemptions and payouts",
    auth: 'party',
    responses: { 200: A.PartyStatementAnswer },
  }),
  claim: route({
    method: 'POST',
    path: '/directory/claim',
    summary: 'I have met this chain: hold it, or learn who does',
    auth: 'party',
    key: 'required',
    body: Q.ChainRef,
    responses: { 200: A.ClaimAnswer },
    errors: ['chain_not_found', 'chain_refunded', 'chain_expired', 'chain_refunding'],
  }),
  handover: route({
    method: 'POST',
    path: '/directory/handover',
    summary: 'Present the index the old holder signed over',
    auth: 'party',
    key: 'required',
    body: Q.IndexBody,
    responses: { 200: A.HandoverAnswer },
    errors: ['chain_not_found', 'chain_refunded', 'chain_refunding', 'chain_not_held', 'index_not_advancing'],
  }),
  backup: route({
    method: 'POST',
    path: '/directory/backup',
    summary: 'The holder pushes its latest index (renews its lease)',
    auth: 'party',
    key: 'required',
    body: Q.IndexBody,
    responses: { 200: A.BackupAnswer },
    errors: ['chain_not_found', 'chain_refunded', 'chain_not_held', 'index_not_advancing', 'forbidden'],
  }),
  takeover: route({
    method: 'POST',
    path: '/directory/takeover',
    summary: 'Take a chain over from a holder that does not answer (after its lease)',
    auth: 'party',
    key: 'required',
    body: Q.ChainRef,
    responses: { 200: A.TakeoverAnswer },
    errors: ['chain_not_found', 'chain_refunded', 'chain_expired', 'chain_refunding', 'lease_active'],
  }),
  redeem: route({
    method: 'POST',
    path: '/redemptions',
    summary: 'Redeem claims (1–200): one result per claim, one transaction',
    auth: 'party',
    key: 'required',
    body: Q.RedeemBody,
    bodyLimit: 1024 * 1024,
    responses: { 200: A.RedeemAnswer },
  }),
} as const;
