/** E-greetings' pages: the cards' art, the index (browse free, send paid through the wallet), a received card. */
import { escapeHtml } from '@netpay/service';
import { page, SHOW_ERROR, usd } from './page.ts';

export const CARDS = [
  { id: 'birthday', title: 'Happy birthday', colour: '#b45309', text: 'Many happy returns!' },
  { id: 'thanks', title: 'Thank you', colour: '#047857', text: 'Thank you so much.' },
  { id: 'congrats', title: 'Congratulations', colour: '#4338ca', text: 'Well done, you!' },
] as const;
export type Card = (typeof CARDS)[number];
/** What sending a card costs (minor units of USD with 4 decimals: 0.0050 USD). */
export const CARD_PRICE = 50n;

export const cardArt = (c: Card) =>
  `<svg xmlns="http://www.w3.org/2000/svg" width="320" height="200" viewBox="0 0 320 200" role="img" aria-label="${c.title}"><rect width="320" height="200" rx="16" fill="${c.colour}"/><text x="160" y="110" font-size="26" text-anchor="middle" fill="white" font-family="sans-serif">${c.title}</text></svg>`;

/** A card on its own (for programs: netpay fetch …/cards/birthday.html), sold at the card's price. */
export const cardPage = (c: Card) =>
  page(
    c.title,
    `${cardArt(c)}<p>${c.text}</p><p><small>Sent with E-greetings, paid with NetPay.</small></p>`,
  );

/** The page the card's link opens: the card with its message; 404's page when there is no such card. */
export function receivedPage(sent: { card: Card; to: string; from: string; message: string } | undefined) {
  if (!sent)
    return page('No such card', '<h1>No such card</h1><p>This link is wrong or has been cut short.</p>');
  const { card } = sent;
  return page(
    `${card.title} for ${sent.to}`,
    `<main><h1>A card for ${escapeHtml(sent.to)}</h1><div class="card" data-testid="received">${cardArt(card)}
<p>${escapeHtml(sent.message || card.text)}</p><p>— ${escapeHtml(sent.from)}</p></div>
<p><small>Sent with E-greetings. <a href="/">Send one back</a> (browsing is free).</small></p></main>`,
  );
}

export function greetingsIndex(walletUrl: string) {
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
