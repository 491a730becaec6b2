/**
 * E-greetings (the paper's example vendor): browse the cards for free; pay per card to send one, and the
 * recipient gets a link to it. Free previews, a paid `POST /send` that makes the card's link, the
 * recipient's page.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { migrate } from '@netpay/db';
import { HEADERS } from '@netpay/protocol';
import { PriceListSchema } from '@netpay/vendor/server';
import { z } from 'zod';
import { CARD_PRICE, CARDS, cardArt, cardPage, greetingsIndex, receivedPage } from './greetings-page.ts';
import { type SiteOptions, type SiteRoutes, startSite } from './page.ts';

export { CARD_PRICE, CARDS };

type App = Parameters<SiteRoutes>[0];
type Site = Parameters<SiteRoutes>[1];

const SendSchema = z.strictObject({
  card: z.enum(CARDS.map((c) => c.id) as [string, ...string[]]),
  to: z.string().trim().min(1, 'say who the card is for').max(80),
  from: z.string().trim().min(1, 'say who the card is from').max(80),
  message: z.string().trim().max(500).default(''),
});
type Send = z.infer<typeof SendSchema>;

const GREETINGS_MIGRATIONS = [
  {
    id: '20261126_9000_greetings_sent',
    sql: `
      -- Cards sent: one per payment (a payment resent after a lost answer finds its card again).
      CREATE TABLE greetings_sent (
        id text PRIMARY KEY,
        payment_key text NOT NULL UNIQUE,
        card text NOT NULL,
        to_name text NOT NULL,
        from_name text NOT NULL,
        message text NOT NULL,
        created_at bigint NOT NULL
      );`,
  },
];

export async function startGreetings(o: SiteOptions) {
  writeCardFiles(o.filesDir);
  const prices = PriceListSchema.parse({
    vendorId: 'e-greetings',
    name: 'E-greetings',
    prices: { 'cards/*.html': CARD_PRICE.toString() },
  });
  return startSite(o, prices, async (app, site) => {
    await migrate(site.db, GREETINGS_MIGRATIONS);
    app.get('/', async (_req, reply) =>
      reply.type('text/html; charset=utf-8').send(greetingsIndex(o.walletUrl())),
    );
    sendRoute(app, site);
    receivedRoute(app, site);
  });
}

/** The free previews, and each card on its own page at the card's price. */
function writeCardFiles(filesDir: string) {
  mkdirSync(join(filesDir, 'previews'), { recursive: true });
  mkdirSync(join(filesDir, 'cards'), { recursive: true });
  for (const c of CARDS) {
    writeFileSync(join(filesDir, 'previews', `${c.id}.svg`), cardArt(c));
    writeFileSync(join(filesDir, 'cards', `${c.id}.html`), cardPage(c));
  }
}

/** `POST /send`, paid: records the card and answers with its link. */
function sendRoute(app: App, site: Site) {
  app.post(
    '/send',
    {
      // Checked before the price is asked: a card that cannot be sent costs nothing.
      preValidation: async (req, reply) => {
        const r = SendSchema.safeParse(req.body);
        if (!r.success) {
          const issue = r.error.issues[0]!;
          return reply.code(400).send({
            code: 'bad_request',
            message: `${issue.path.join('.') || 'body'}: ${issue.message}`,
          });
        }
        req.body = r.data;
      },
      config: {
        netpay: (req) => ({ amount: CARD_PRICE, description: `send the ${(req.body as Send).card} card` }),
      },
    },
    async (req, reply) => {
      const b = req.body as Send;
      // One card per payment: the same payment header sent again (its answer was lost) gets the same
      // card back. A server-side wallet charge is made per request, so each is its own card.
      const header = req.headers[HEADERS.payment.toLowerCase()];
      const paymentKey =
        typeof header === 'string'
          ? createHash('sha256').update(header).digest('base64url')
          : `wallet:${randomBytes(16).toString('base64url')}`;
      const rows = await site.db.query<{ id: string }>(
        `INSERT INTO greetings_sent (id, payment_key, card, to_name, from_name, message, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (payment_key) DO UPDATE SET payment_key = EXCLUDED.payment_key
         RETURNING id`,
        [
          randomBytes(16).toString('base64url'),
          paymentKey,
          b.card,
          b.to,
          b.from,
          b.message,
          BigInt(site.clock()),
        ],
      );
      const id = rows[0]!.id;
      return reply.send({ id, link: `${site.url()}/received/${id}` });
    },
  );
}

/** `GET /received/:id`, free: the card its link was made for. */
function receivedRoute(app: App, site: Site) {
  app.get('/received/:id', async (req, reply) => {
    const id = (req.params as { id: string }).id;
    const rows = /^[A-Za-z0-9_-]{22}$/.test(id)
      ? await site.db.query<{ card: string; to_name: string; from_name: string; message: string }>(
          'SELECT card, to_name, from_name, message FROM greetings_sent WHERE id = $1',
          [id],
        )
      : [];
    const sent = rows[0];
    const card = sent && CARDS.find((c) => c.id === sent.card);
    reply.type('text/html; charset=utf-8');
    if (!sent || !card) return reply.code(404).send(receivedPage(undefined));
    return receivedPage({ card, to: sent.to_name, from: sent.from_name, message: sent.message });
  });
}
