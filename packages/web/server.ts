/**
 * Serves the built web apps (`buildWeb`) with the `config.json` they read: which broker, which shops.
 */
import type { AddressInfo } from 'node:net';
import fastifyStatic from '@fastify/static';
import { createClient, unanswered, vendorApi } from '@netpay/api';
import { isNetPayError } from '@netpay/protocol';
import Fastify from 'fastify';
import { buildWeb } from './build.ts';

export interface WebOptions {
  readonly port: number;
  readonly host?: string;
  /** Where the build goes (made on each start, so it always matches the code). */
  readonly outDir: string;
  readonly broker: string;
  readonly shops: readonly {
    id: string;
    name: string;
    url: string;
    sample: string;
  }[];
}

export async function startWeb(o: WebOptions) {
  await buildWeb(o.outDir);
  const app = Fastify();
  app.get('/config.json', async (_req, reply) =>
    reply.header('cache-control', 'no-store').send({ broker: o.broker, shops: o.shops }),
  );
  app.get('/healthz', async () => ({ ok: true }));
  // Only the wallet frame may be framed (by any shop's page); the wallet's own pages may not (clickjacking).
  app.addHook('onSend', async (req, reply, payload) => {
    if (String(reply.getHeader('content-type') ?? '').startsWith('text/html')) {
      const frame = req.url.split('?')[0] === '/pay.html';
      reply.header('content-security-policy', frame ? 'frame-ancestors *' : "frame-ancestors 'none'");
      if (!frame) reply.header('x-frame-options', 'DENY');
    }
    return payload;
  });
  // Each shop's dashboard data, fetched here on this machine (the shops serve it to this machine only and
  // to no other site), so the dashboard page reads it from its own origin.
  app.get('/shops/:id/dashboard.json', async (req, reply) => {
    const shop = o.shops.find((s) => s.id === (req.params as { id: string }).id);
    if (!shop) return reply.code(404).send({ code: 'not_found', message: 'no such shop' });
    const vendor = createClient(vendorApi, { url: shop.url, name: shop.name, timeoutMs: 5_000 });
    try {
      return await vendor.dashboard({});
    } catch (e) {
      if (isNetPayError(e) && !unanswered(e)) return reply.code(e.status ?? 502).send(e.toBody());
      return reply.code(502).send({ code: 'shop_unreachable', message: `${shop.name} cannot be reached` });
    }
  });
  await app.register(fastifyStatic, { root: o.outDir });
  await app.listen({ port: o.port, host: o.host ?? '127.0.0.1' });
  const a = app.server.address() as AddressInfo;
  return { url: `http://${a.address}:${a.port}`, close: () => app.close() };
}
