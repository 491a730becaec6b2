/**
 * Serves the built web apps and the web server's own API (the contract `webApi` of @netpay/api): the
 * `config.json` they read (which broker, which shops) and each shop's dashboard. The apps are built once
 * by the package's build (`npm run build`: `dist/app`, shipped in the package), so serving them needs no
 * build tool; tests from the sources build them afresh with Vite (`outDir`).
 */
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import { createClient, unanswered, vendorApi, WebConfigSchema, type WebShop, webApi } from '@netpay/api';
import { isNetPayError } from '@netpay/protocol';
import { createServiceApp, serve } from '@netpay/service';

/** The apps as the package's build made them: dist/app beside this file's own folder or its build's. */
const here = new URL('.', import.meta.url);
export const BUILT_APPS = fileURLToPath(
  new URL(here.pathname.endsWith('/dist/') ? 'app/' : 'dist/app/', here),
);

export interface WebOptions {
  readonly port: number;
  readonly host?: string;
  /**
   * Build the apps with Vite into this folder on start (Vite is a development dependency: the sources'
   * tests do). Default: serve the package's own build (`BUILT_APPS`).
   */
  readonly outDir?: string;
  readonly broker: string;
  readonly shops: readonly WebShop[];
}

export async function startWeb(o: WebOptions) {
  // Checked at start: a config the apps would refuse stops the server here, saying which field.
  const config = Object.freeze(WebConfigSchema.parse({ broker: o.broker, shops: o.shops }));
  const root = o.outDir ?? BUILT_APPS;
  if (o.outDir !== undefined) await (await import('./build.ts')).buildWeb(o.outDir);
  else if (!existsSync(root))
    throw new Error(`the web apps are not built (${root}): run npm run build in the NetPay repository`);
  const { app } = createServiceApp({
    title: 'NetPay web apps',
    description:
      'The wallet, the wallet frame, the vendor dashboard and the operator page, and what they read.',
  });
  // Only the wallet frame may be framed (by any shop's page); the wallet's own pages may not (clickjacking).
  app.addHook('onSend', async (req, reply, payload) => {
    if (String(reply.getHeader('content-type') ?? '').startsWith('text/html')) {
      const frame = req.url.split('?')[0] === '/pay.html';
      reply.header('content-security-policy', frame ? 'frame-ancestors *' : "frame-ancestors 'none'");
      if (!frame) reply.header('x-frame-options', 'DENY');
    }
    return payload;
  });
  // Routes go in a plugin so they register after @fastify/swagger has loaded and so appear in /docs.
  app.register(async (r) => {
    serve(r, webApi.config, async (_req, reply) => reply.header('cache-control', 'no-store').send(config));
    // Each shop's dashboard data, fetched here on this machine (the shops serve it to this machine only and
    // to no other site), so the dashboard page reads it from its own origin.
    serve(r, webApi.dashboard, async (req, reply) => {
      const shop = config.shops.find((s) => s.id === req.params.id);
      if (!shop) return reply.code(404).send({ code: 'not_found', message: 'no such shop' });
      const vendor = createClient(vendorApi, { url: shop.url, name: shop.name, timeoutMs: 5_000 });
      try {
        return await vendor.dashboard({});
      } catch (e) {
        if (isNetPayError(e) && !unanswered(e)) return reply.code(e.status ?? 502).send(e.toBody());
        return reply.code(502).send({ code: 'shop_unreachable', message: `${shop.name} cannot be reached` });
      }
    });
  });
  await app.register(fastifyStatic, { root });
  await app.listen({ port: o.port, host: o.host ?? '127.0.0.1' });
  const a = app.server.address() as AddressInfo;
  return { url: `http://${a.address}:${a.port}`, close: () => app.close() };
}
