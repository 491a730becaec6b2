import { PartyIdSchema } from '@netpay/protocol';
import { z } from 'zod';
import { route } from './route.ts';
import { vendorApi } from './vendor.ts';

/**
 * The web server's own small API (packages/web/server.ts), what its apps read from their own origin: the
 * config that says which broker and which shops, and each shop's dashboard fetched through it. The server
 * registers these routes and the wallet, frame, operator and dashboard pages read them through the client.
 */

/** A shop the web apps know: the wallet lists it, the frame trusts its limits, the dashboard shows it. */
export const WebShopSchema = z
  .object({
    id: PartyIdSchema.describe('the vendor id the broker knows the shop by'),
    name: z.string().min(1),
    url: z.url().describe("the shop's site"),
    sample: z.string().describe('something to buy there, a path on the shop: /cards/birthday.html'),
  })
  .describe('WebShop');

/** What `config.json` says: the broker the wallet uses, and the shops. */
export const WebConfigSchema = z
  .object({
    broker: z.url().describe("the broker's URL"),
    shops: z.array(WebShopSchema),
  })
  .describe('WebConfig');

export type WebShop = z.infer<typeof WebShopSchema>;
export type WebConfig = z.infer<typeof WebConfigSchema>;

export const webApi = {
  config: route({
    method: 'GET',
    path: '/config.json',
    summary: 'Which broker and which shops the web apps use (not cached)',
    auth: 'none',
    responses: { 200: WebConfigSchema },
  }),
  dashboard: route({
    method: 'GET',
    path: '/shops/:id/dashboard.json',
    summary:
      "A shop's dashboard (its /netpay/dashboard.json), fetched by the web server on the shop's machine so the dashboard page reads it from its own origin",
    auth: 'none',
    params: z.strictObject({ id: z.string().describe('a shop of config.json') }),
    responses: vendorApi.dashboard.responses,
    // A shop's own error answers are passed on with their status.
    errors: ['not_found', 'shop_unreachable', 'bad_answer', ...vendorApi.dashboard.errors],
  }),
} as const;
export type WebApi = typeof webApi;
