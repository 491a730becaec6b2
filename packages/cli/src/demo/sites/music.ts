/**
 * E-music: pay per track, or stream a track paying one coin per 10-second part; every coin is shared with
 * the label and the access operator (multi-party payments). The files are priced by the vendor's price
 * list; the site adds only its index page, whose player pays through the customer's browser wallet.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PriceListSchema } from '@netpay/vendor/server';
import { toneWav } from '@netpay/web/media';
import { page, SHOW_ERROR, type SiteOptions, startSite, usd } from './page.ts';

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
/** Who gets what of every coin paid at E-music, as the listener sees it. */
const PAYEE_NAMES: Record<string, string> = {
  'e-music': 'E-music',
  'demo-label': 'Demo Records (label)',
  'demo-operator': 'Demo Mobile (access operator)',
};

export async function startMusic(o: SiteOptions) {
  writeTrackFiles(o.filesDir);
  const prices = PriceListSchema.parse({
    vendorId: 'e-music',
    name: 'E-music',
    prices: { 'tracks/*.wav': TRACK_PRICE.toString(), 'stream/**': PART_PRICE.toString() },
    payees: MUSIC_PAYEES,
  });
  return startSite(o, prices, (app) => {
    app.get('/', async (_req, reply) =>
      reply.type('text/html; charset=utf-8').send(musicIndex(o.walletUrl())),
    );
  });
}

/** Each track whole (2 s), and its stream in parts of 10 s, a little higher in pitch each. */
function writeTrackFiles(filesDir: string) {
  mkdirSync(join(filesDir, 'tracks'), { recursive: true });
  for (const t of TRACKS) {
    writeFileSync(join(filesDir, 'tracks', `${t.id}.wav`), toneWav(t.hz, 2));
    mkdirSync(join(filesDir, 'stream', t.id), { recursive: true });
    for (let k = 0; k < STREAM_PARTS; k++)
      writeFileSync(join(filesDir, 'stream', t.id, `${k}.wav`), toneWav(t.hz + 40 * k, 10));
  }
}

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
${PLAYER}</script>`,
    walletUrl,
  );
}

/** In the page: buys a track, or streams it part by part until the listener pauses. */
const PLAYER = `var NAMES = ${JSON.stringify(PAYEE_NAMES)};
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
`;
