/**
 * The demo's two vendor sites, as a shop would build them on `@netpay/vendor`:
 *
 * - **E-greetings** (the paper's example vendor): browse the cards for free; pay per card to send one, and
 *   the recipient gets a link to it.
 * - **E-music**: pay per track, or stream a track paying one coin per 10-second part; every coin is shared
 *   with the label and the access operator (multi-party payments).
 *
 * Their pages pay with the customer's browser wallet through the wallet's embeddable script
 * (`<wallet>/netpay.js`, `NetPay.fetch`), or from the customer's NetPay account (server-side wallet).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { migrate } from '@netpay/db';
import { currency, formatMoney, HEADERS, money } from '@netpay/protocol';
import { escapeHtml } from '@netpay/service';
import { PriceListSchema, startVendorServer } from '@netpay/vendor/server';
import { toneWav } from '@netpay/web/media';
import { z } from 'zod';

const USD = currency('USD', 4);
const usd = (minor: bigint) => formatMoney(money(minor, USD));

export const CARDS = [
  { id: 'birthday', title: 'Happy birthday', colour: '#b45309', text: 'Many happy returns!' },
  { id: 'thanks', title: 'Thank you', colour: '#047857', text: 'Thank you so much.' },
  { id: 'congrats', title: 'Congratulations', colour: '#4338ca', text: 'Well done, you!' },
] as const;
/** What sending a card costs (minor units of USD with 4 decimals: 0.0050 USD). */
export const CARD_PRICE = 50n;
/** Streamed tracks come in 10-second parts, each paid with one coin of 0.0010 USD. */
export const STREAM_PARTS = 3;
export const TRACKS = [
  { id: 'morning', title: 'Morning tone', hz: 440 },
  { id: 'evening', title: 'Evening tone', hz: 330 },
] as const;
const TRACK_PRICE = 100n;
const PART_PRICE = 10n;
const MUSIC_PAYEES = [
  { payeeId: 'e-music', share: 2_000 },
  { payeeId: 'demo-label', share: 7_000 },
  { payeeId: 'demo-operator', share: 1_000 },
];

export interface SiteOptions {
  readonly port: number;
  /** The site's key and database live here. */
  readonly dataDir: string;
  /** Where its files are written (on every start: they are part of the demo, not its data). */
  readonly filesDir: string;
  readonly brokerUrl: string;
  /** The web wallet's URL, whose script the pages embed (known once the wallet listens). */
  readonly walletUrl: () => string;
  readonly redeemEveryMs?: number;
  readonly clock?: () => number;
  /** The broker operator's invitation, for the site's first registration (docs/broker.md §6.4). */
  readonly invitation?: string;
}

const cardArt = (c: (typeof CARDS)[number]) =>
  `<svg xmlns="http://www.w3.org/2000/svg" width="320" height="200" viewBox="0 0 320 200" role="img" aria-label="${c.title}"><rect width="320" height="200" rx="16" fill="${c.colour}"/><text x="160" y="110" font-size="26" text-anchor="middle" fill="white" font-family="sans-serif">${c.title}</text></svg>`;

const STYLE = `body{font-family:system-ui,sans-serif;max-width:44rem;margin:1.5rem auto;padding:0 1rem;line-height:1.45;color:#111}
a{color:#1d4ed8}label{display:block;margin-top:.4rem}input,textarea,button{font:inherit}input,textarea{width:100%;box-sizing:border-box;padding:.35rem}
button{margin-top:.5rem;padding:.4rem .9rem;border:0;border-radius:.4rem;background:#1d4ed8;color:#fff;cursor:pointer}button[disabled]{opacity:.6}
button:focus-visible,a:focus-visible,input:focus-visible,textarea:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}
.card{border:1px solid #ddd;border-radius:.6rem;padding:1rem;margin:1rem 0}.card svg{max-width:100%;height:auto}
.alert{background:#fee2e2;color:#7f1d1d;padding:.5rem;border-radius:.4rem}.ok{background:#dcfce7;color:#14532d;padding:.5rem;border-radius:.4rem}`;

const page = (title: string, body: string, walletUrl?: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title><style>${STYLE}</style>${walletUrl ? `<script src="${escapeHtml(walletUrl)}/netpay.js"></script>` : ''}</head><body>${body}</body></html>`;

/**
 * In the page: shows an error from NetPay.fetch (or the shop) visibly, with the ways out it offers: the
 * wallet to buy coins, or paying from the NetPay account (server-side wallet).
 */
const SHOW_ERROR = `function showError(out, e, again) {
  out.className = 'result alert';
  out.textContent = e && e.message ? e.message : String(e);
  if (e && e.tryWindow && again) {
    // The wallet frame sees no wallet (on another site than the wallet, browsers may keep its storage
    // apart): a window of the wallet's own can pay.
    out.append(' ');
    var b = document.createElement('button');
    b.type = 'button'; b.textContent = 'Pay in a NetPay wallet window';
    b.onclick = function () { again({ window: true }); };
    out.append(b);
  }
  if (e && e.signIn) {
    out.append(' ');
    var a = document.createElement('a');
    var back = new URL(e.signIn);
    back.searchParams.set('return', location.pathname); // back to this page, not to the API
    a.href = back.href; a.textContent = 'Pay from my NetPay account instead';
    out.append(a);
  }
  if (e && e.walletUrl) {
    out.append(' ');
    var w = document.createElement('a');
    w.href = e.walletUrl; w.target = '_blank'; w.textContent = 'Open my NetPay wallet';
    out.append(w);
  }
}
function netpayFetch(url, init, options) {
  if (!window.NetPay) return Promise.reject(Object.assign(new Error('The NetPay wallet cannot be reached from this page: try again in a moment.'), { code: 'wallet_unreachable' }));
  return window.NetPay.fetch(url, init, options);
}`;

const SendSchema = z.strictObject({
  card: z.enum(CARDS.map((c) => c.id) as [string, ...string[]]),
  to: z.string().trim().min(1, 'say who the card is for').max(80),
  from: z.string().trim().min(1, 'say who the card is from').max(80),
  message: z.string().trim().max(500).default(''),
});

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

/** E-greetings: free previews, a paid `POST /send` that makes the card's link, the recipient's page. */
export async function startGreetings(o: SiteOptions) {
  mkdirSync(join(o.filesDir, 'previews'), { recursive: true });
  mkdirSync(join(o.filesDir, 'cards'), { recursive: true });
  for (const c of CARDS) {
    writeFileSync(join(o.filesDir, 'previews', `${c.id}.svg`), cardArt(c));
    // A card on its own (for programs: netpay fetch …/cards/birthday.html), at the same price.
    writeFileSync(
      join(o.filesDir, 'cards', `${c.id}.html`),
      page(
        c.title,
        `${cardArt(c)}<p>${c.text}</p><p><small>Sent with E-greetings, paid with NetPay.</small></p>`,
      ),
    );
  }
  return startVendorServer({
    port: o.port,
    folder: o.filesDir,
    prices: PriceListSchema.parse({
      vendorId: 'e-greetings',
      name: 'E-greetings',
      prices: { 'cards/*.html': CARD_PRICE.toString() },
    }),
    brokerUrl: o.brokerUrl,
    dataDir: o.dataDir,
    redeemEveryMs: o.redeemEveryMs ?? 30_000,
    ...(o.clock ? { clock: o.clock } : {}),
    ...(o.invitation ? { invitation: o.invitation } : {}),
    routes: async (app, site) => {
      await migrate(site.db, GREETINGS_MIGRATIONS);
      app.get('/', async (_req, reply) =>
        reply.type('text/html; charset=utf-8').send(greetingsIndex(o.walletUrl())),
      );
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
            netpay: (req) => ({
              amount: CARD_PRICE,
              description: `send the ${(req.body as z.infer<typeof SendSchema>).card} card`,
            }),
          },
        },
        async (req, reply) => {
          const b = req.body as z.infer<typeof SendSchema>;
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
        if (!sent || !card)
          return reply
            .code(404)
            .send(
              page('No such card', '<h1>No such card</h1><p>This link is wrong or has been cut short.</p>'),
            );
        return page(
          `${card.title} for ${sent.to_name}`,
          `<main><h1>A card for ${escapeHtml(sent.to_name)}</h1><div class="card" data-testid="received">${cardArt(card)}
<p>${escapeHtml(sent.message || card.text)}</p><p>— ${escapeHtml(sent.from_name)}</p></div>
<p><small>Sent with E-greetings. <a href="/">Send one back</a> (browsing is free).</small></p></main>`,
        );
      });
    },
  });
}

function greetingsIndex(walletUrl: string) {
  const cards = CARDS.map(
    (c) => `<section class="card" aria-labelledby="t-${c.id}"><h2 id="t-${c.id}">${c.title}</h2>
<img src="previews/${c.id}.svg" alt="Preview of the ${c.title} card" width="320" height="200">
<form class="send" data-card="${c.id}">
<label for="to-${c.id}">To</label><input id="to-${c.id}" name="to" required maxlength="80">
<label for="from-${c.id}">From</label><input id="from-${c.id}" name="from" required maxlength="80">
<label for="msg-${c.id}">Message</label><textarea id="msg-${c.id}" name="message" maxlength="500" rows="2"></textarea>
<button>Send for ${usd(CARD_PRICE)}</button>
<p class="result" role="status" aria-live="polite"></p></form></section>`,
  ).join('');
  return page(
    'E-greetings',
    `<main><h1>E-greetings</h1><p>Browse the cards for free. Sending one costs ${usd(CARD_PRICE)}, paid from your NetPay wallet; the person you send it to gets a link.</p>${cards}</main>
<script>${SHOW_ERROR}
document.querySelectorAll('form.send').forEach(function (form) {
  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    send({});
  });
  async function send(options) {
    var out = form.querySelector('.result');
    var button = form.querySelector('button');
    button.disabled = true;
    out.className = 'result';
    out.textContent = 'Paying…';
    var data = Object.fromEntries(new FormData(form));
    data.card = form.dataset.card;
    try {
      var res = await netpayFetch('/send', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(data) }, options);
      var body = await res.json();
      if (!res.ok) throw Object.assign(new Error(body.message || ('the shop answered ' + res.status)), body);
      out.className = 'result ok';
      out.textContent = 'Sent' + (res.netpay ? ' (paid ' + res.netpay.formatted + ')' : '') + '. Give this link to ' + data.to + ': ';
      var a = document.createElement('a');
      a.href = body.link; a.textContent = body.link; a.dataset.testid = 'card-link';
      out.append(a);
    } catch (e) {
      showError(out, e, send);
    } finally {
      button.disabled = false;
    }
  }
});
</script>`,
    walletUrl,
  );
}

/** E-music: whole tracks, or streams paid a coin per 10-second part, shared with the label and operator. */
export async function startMusic(o: SiteOptions) {
  mkdirSync(join(o.filesDir, 'tracks'), { recursive: true });
  for (const t of TRACKS) {
    writeFileSync(join(o.filesDir, 'tracks', `${t.id}.wav`), toneWav(t.hz, 2));
    mkdirSync(join(o.filesDir, 'stream', t.id), { recursive: true });
    for (let k = 0; k < STREAM_PARTS; k++)
      writeFileSync(join(o.filesDir, 'stream', t.id, `${k}.wav`), toneWav(t.hz + 40 * k, 10));
  }
  return startVendorServer({
    port: o.port,
    folder: o.filesDir,
    prices: PriceListSchema.parse({
      vendorId: 'e-music',
      name: 'E-music',
      prices: { 'tracks/*.wav': TRACK_PRICE.toString(), 'stream/**': PART_PRICE.toString() },
      payees: MUSIC_PAYEES,
    }),
    brokerUrl: o.brokerUrl,
    dataDir: o.dataDir,
    redeemEveryMs: o.redeemEveryMs ?? 30_000,
    ...(o.clock ? { clock: o.clock } : {}),
    ...(o.invitation ? { invitation: o.invitation } : {}),
    routes: (app) => {
      app.get('/', async (_req, reply) =>
        reply.type('text/html; charset=utf-8').send(musicIndex(o.walletUrl())),
      );
    },
  });
}

/** Who gets what of every coin paid at E-music, as the listener sees it. */
const PAYEE_NAMES: Record<string, string> = {
  'e-music': 'E-music',
  'demo-label': 'Demo Records (label)',
  'demo-operator': 'Demo Mobile (access operator)',
};

function musicIndex(walletUrl: string) {
  const tracks = TRACKS.map(
    (t) => `<section class="card" aria-labelledby="t-${t.id}"><h2 id="t-${t.id}">${t.title}</h2>
<button data-buy="${t.id}">Buy the track, ${usd(TRACK_PRICE)}</button>
<button data-stream="${t.id}">Stream it, ${usd(PART_PRICE)} per 10 seconds</button></section>`,
  ).join('');
  const shares = MUSIC_PAYEES.map((p) => `${PAYEE_NAMES[p.payeeId]} ${p.share / 100}%`).join(', ');
  return page(
    'E-music',
    `<main><h1>E-music</h1><p>Pay per track, or stream and pay ${usd(PART_PRICE)} for every 10 seconds you listen: you stop paying when you stop listening. Every coin is shared: ${shares}.</p>
${tracks}
<section class="card"><h2>Player</h2><audio controls data-testid="player" aria-label="E-music player"></audio>
<p class="result" role="status" aria-live="polite" data-testid="stream-status"></p></section></main>
<script>${SHOW_ERROR}
var NAMES = ${JSON.stringify(PAYEE_NAMES)};
var audio = document.querySelector('audio');
var out = document.querySelector('.result');
var buttons = document.querySelectorAll('button');
function busy(b) { buttons.forEach(function (x) { x.disabled = b; }); }
async function get(path) {
  var res = await netpayFetch(path);
  if (!res.ok) {
    var body = await res.json().catch(function () { return {}; });
    throw Object.assign(new Error(body.message || ('the shop answered ' + res.status)), body);
  }
  return res;
}
function split(res) {
  var payees = res.netpay && res.netpay.receipt && res.netpay.receipt.payees;
  return payees ? ' — shared: ' + payees.map(function (p) { return (NAMES[p.payeeId] || p.payeeId) + ' ' + p.share / 100 + '%'; }).join(', ') : '';
}
/** Plays one part; resolves 'next' when it ends (or its length passes, on a machine without sound), 'stopped' on pause. */
function play(blob) {
  return new Promise(function (resolve, reject) {
    audio.src = URL.createObjectURL(blob);
    audio.onended = function () { resolve('next'); };
    audio.onerror = function () { reject(new Error('this part cannot be played')); };
    audio.onpause = function () { if (!audio.ended) resolve('stopped'); };
    audio.onloadedmetadata = function () {
      setTimeout(function () { resolve(audio.paused && !audio.ended ? 'stopped' : 'next'); }, Math.ceil(audio.duration * 1000) + 250);
    };
    audio.play().catch(function () {});
  }).finally(function () { URL.revokeObjectURL(audio.src); });
}
document.querySelectorAll('[data-buy]').forEach(function (b) {
  b.addEventListener('click', async function () {
    busy(true); out.className = 'result'; out.textContent = 'Paying…';
    try {
      var res = await get('/tracks/' + b.dataset.buy + '.wav');
      out.textContent = 'Bought ' + b.closest('section').querySelector('h2').textContent + (res.netpay ? ' for ' + res.netpay.formatted : ' from your NetPay account') + split(res) + '.';
      await play(await res.blob());
    } catch (e) { showError(out, e); } finally { busy(false); }
  });
});
document.querySelectorAll('[data-stream]').forEach(function (b) {
  b.addEventListener('click', async function () {
    var title = b.closest('section').querySelector('h2').textContent;
    busy(true); out.className = 'result';
    try {
      for (var k = 0; k < ${STREAM_PARTS}; k++) {
        var res = await get('/stream/' + b.dataset.stream + '/' + k + '.wav');
        out.textContent = title + ': part ' + (k + 1) + ' of ${STREAM_PARTS}, ' + (k + 1) + (res.netpay ? ' coin(s) paid' : ' part(s) paid from your NetPay account') + split(res);
        if ((await play(await res.blob())) === 'stopped') {
          out.textContent = 'Stopped ' + title + ' after ' + (k + 1) + ' part(s): nothing more is paid.';
          return;
        }
      }
      out.textContent = 'Played ' + title + ': all ${STREAM_PARTS} parts paid.';
    } catch (e) { showError(out, e); } finally { busy(false); }
  });
});
</script>`,
    walletUrl,
  );
}

/** The two sites as the web wallet lists them (with something to buy from the wallet page itself). */
export function shopsFor(greetings: { url: string }, music: { url: string }) {
  return [
    { id: 'e-greetings', name: 'E-greetings', url: greetings.url, sample: '/cards/birthday.html' },
    { id: 'e-music', name: 'E-music', url: music.url, sample: '/tracks/morning.wav' },
  ];
}
