/**
 * The wallet and broker portal: the customer's wallet lives in this browser (IndexedDB) and pays vendor
 * sites with coins; the broker sees only the chains' roots. Reads ./config.json for the broker and the shops.
 * This is the page's entry; the component and its sections are in `portal/`.
 */
import { indexedDbStorage, openWallet } from '@netpay/wallet';
import { render } from 'preact';
import { App } from './portal/app.ts';
import { html, type PortalConfig } from './portal/view.ts';
import { site } from './site.ts';

async function main() {
  const root = document.getElementById('app')!;
  try {
    const config: PortalConfig = await site().config({});
    const wallet = await openWallet({ storage: indexedDbStorage('netpay-wallet'), brokerUrl: config.broker });
    render(
      html`<header><h1>NetPay wallet</h1><span>${wallet.signedInAs ?? ''}</span></header><${App} config=${config} wallet=${wallet} />`,
      root,
    );
  } catch (e) {
    root.textContent = `The wallet could not start: ${(e as Error).message}`;
  }
}
void main();
