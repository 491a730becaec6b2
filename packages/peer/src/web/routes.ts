/**
 * The peer's web view, served by the running peer to this machine only (docs/p2p.md §6): the page
 * `/netpay/peer` (page.html with its script and style beside it, no build step) and what it polls every
 * second, `/netpay/peer.json` (view.ts). A request from another machine, or naming another host than
 * this one (a DNS rebinding page), gets 403 `forbidden`, as the vendor's owner pages do.
 */
import { readFileSync } from 'node:fs';
import { route } from '@netpay/api';
import { serve } from '@netpay/service';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type PeerView, PeerViewSchema } from './view.ts';

const Local = 'Served to the peer machine itself only (127.0.0.1): 403 `forbidden` from elsewhere.';

export const peerViewApi = {
  page: route({
    method: 'GET',
    path: '/netpay/peer',
    summary: `The peer's web view: shared files, downloads, earnings and ratio. ${Local}`,
    auth: 'none',
    responses: { 200: 'html' },
    errors: ['forbidden'],
  }),
  view: route({
    method: 'GET',
    path: '/netpay/peer.json',
    summary: `What the peer's web view shows. ${Local}`,
    auth: 'none',
    responses: { 200: PeerViewSchema },
    errors: ['forbidden'],
  }),
} as const;

const FORBIDDEN = { code: 'forbidden', message: 'served to this machine only' };
const LOOPBACK_IP = /^(127\.|::1$|::ffff:127\.)/;
const LOOPBACK_HOST = /^(127(\.\d{1,3}){3}|localhost|\[::1\])(:\d{1,5})?$/i;

/** A request from this machine that names this machine. */
export const fromThisMachine = (req: FastifyRequest) =>
  LOOPBACK_IP.test(req.ip) && LOOPBACK_HOST.test(req.headers.host ?? '');

/** The page's own files only; nothing from elsewhere, never framed. */
const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

export function peerViewRoutes(app: FastifyInstance, view: { read(): Promise<PeerView> }): void {
  const asset = (name: string) => readFileSync(new URL(name, import.meta.url), 'utf8');
  const page = asset('./page.html');
  const script = asset('./page.js');
  const style = asset('./page.css');
  const send = (reply: FastifyReply, type: string, body: string) =>
    reply.type(type).headers(PAGE_HEADERS).send(body);
  // In a plugin of its own, so the local-only hook guards these routes and no others.
  app.register(async (r) => {
    r.addHook('onRequest', async (req, reply) => {
      if (!fromThisMachine(req)) return reply.code(403).send(FORBIDDEN);
    });
    serve(r, peerViewApi.page, async (_req, reply) => send(reply, 'text/html; charset=utf-8', page));
    r.get('/netpay/peer.js', async (_req, reply) => send(reply, 'text/javascript; charset=utf-8', script));
    r.get('/netpay/peer.css', async (_req, reply) => send(reply, 'text/css; charset=utf-8', style));
    serve(r, peerViewApi.view, async (_req, reply) =>
      reply.header('cache-control', 'no-store').send(await view.read()),
    );
  });
}
