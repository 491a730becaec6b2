/**
 * The demo's two vendor sites, as a shop would build them on `@netpay/vendor` (one module each in
 * `sites/`):
 *
 * - **E-greetings** (the paper's example vendor, `sites/greetings.ts`): browse the cards for free; pay per
 *   card to send one, and the recipient gets a link to it.
 * - **E-music** (`sites/music.ts`): pay per track, or stream a track paying one coin per 10-second part;
 *   every coin is shared with the label and the access operator (multi-party payments).
 *
 * Their pages pay with the customer's browser wallet through the wallet's embeddable script
 * (`<wallet>/netpay.js`, `NetPay.fetch`), or from the customer's NetPay account (server-side wallet);
 * what they share is in `sites/page.ts`.
 */
export { CARD_PRICE, CARDS, startGreetings } from './sites/greetings.ts';
export { STREAM_PARTS, startMusic, TRACKS } from './sites/music.ts';
export type { SiteOptions } from './sites/page.ts';

/** The two sites as the web wallet lists them (with something to buy from the wallet page itself). */
export function shopsFor(greetings: { url: string }, music: { url: string }) {
  return [
    { id: 'e-greetings', name: 'E-greetings', url: greetings.url, sample: '/cards/birthday.html' },
    { id: 'e-music', name: 'E-music', url: music.url, sample: '/tracks/morning.wav' },
  ];
}
