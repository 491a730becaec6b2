/**
 * The wallet page's component: its state (signed in, the balance, the broker's denominations, limits,
 * grants), reloads when another tab or the wallet frame changes the wallet, and `act`, which runs a form's
 * action with the buttons disabled. The sections are in sign-in.ts, money.ts and shops.ts.
 */

import { brokerApi, createClient } from '@netpay/api';
import { currency, formatMoney, money, NetPayError, parseAmount } from '@netpay/protocol';
import { recoverPayments, type Wallet, type WalletGrant } from '@netpay/wallet';
import { useEffect, useState } from 'preact/hooks';
import { CHANGES, readLimits } from '../limits.ts';
import {
  accountSection,
  balanceSection,
  buySection,
  historySection,
  loadSection,
  refundSection,
  sendSection,
} from './money.ts';
import { grantsSection, limitsSection, shopsSection } from './shops.ts';
import { signInView } from './sign-in.ts';
import { type Action, html, type PortalConfig, type View } from './view.ts';

type Balance = Awaited<ReturnType<Wallet['balance']>>;

export function App({ config, wallet }: { config: PortalConfig; wallet: Wallet }) {
  const [signedIn, setSignedIn] = useState(wallet.signedInAs !== null);
  const [needsCode, setNeedsCode] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [balance, setBalance] = useState<Balance | null>(null);
  const [denominations, setDenominations] = useState<string[]>([]);
  const [maxCoins, setMaxCoins] = useState(0);
  const [bought, setBought] = useState<string | null>(null);
  const [limit, setLimit] = useState('0.0100');
  const [cur, setCur] = useState<ReturnType<typeof currency> | null>(null);
  const [tick, setTick] = useState(0);
  const [limits, setLimits] = useState(readLimits());
  const [grants, setGrants] = useState<WalletGrant[] | null>(null);
  const reload = () => setTick((t) => t + 1);

  useEffect(() => followChanges(wallet, reload), []);

  useEffect(() => {
    void (async () => {
      try {
        const c = await wallet.currency();
        setCur(currency(c.code, c.exponent));
        const cfg = await createClient(brokerApi, { url: config.broker, name: 'the broker' }).config({});
        setDenominations(cfg.denominations);
        setMaxCoins(cfg.maxChainLength);
        if (signedIn) {
          setBalance(await wallet.balance());
          setGrants(await wallet.grants());
        }
      } catch (e) {
        setError((e as Error).message);
      }
    })();
  }, [signedIn, tick]);

  /** Runs one action with the buttons disabled; errors show in the alert, success in the notice. */
  const act = (fn: Action) => async (ev: Event) => {
    ev.preventDefault();
    setBusy(true);
    setError(null);
    setDone(null);
    try {
      const message = await fn(new FormData(ev.target as HTMLFormElement));
      if (message) setDone(message);
      reload();
    } catch (e) {
      if (e instanceof NetPayError && e.status === 401 && wallet.signedInAs !== null) {
        // The broker no longer knows this session (it expired, or the demo was reset): sign in again.
        await wallet.signOut();
        setSignedIn(false);
        setError('Your session has ended: please sign in again.');
      } else {
        setError(e instanceof Error ? e.message : String(e));
      }
    } finally {
      setBusy(false);
    }
  };
  const v: View = {
    wallet,
    config,
    busy,
    cur,
    act,
    show: (m) => (cur ? formatMoney(money(m, cur)) : m.toString()),
    parse: (text) => {
      if (!cur) throw new NetPayError('not_ready', 'the broker has not answered yet');
      const r = parseAmount(text.trim(), cur);
      if (!r.ok) throw new NetPayError('bad_amount', `${text} is not an amount like 1.50`);
      return r.value.minor as bigint;
    },
  };

  const notices = html`${error && html`<p class="alert" role="alert">${error}</p>`}
  ${done && html`<p class="ok" role="status">${done}</p>`}`;

  if (!signedIn) {
    return html`<main>
      ${notices}
      ${signInView(v, needsCode, { needsCode: setNeedsCode, signedIn: setSignedIn })}
    </main>`;
  }

  return html`<main>
    ${notices}
    ${accountSection(v, () => setSignedIn(false))}
    ${balanceSection(v, balance)}
    ${loadSection(v)}
    ${buySection(v, denominations, maxCoins)}
    ${shopsSection(v, { limit, setLimit, bought, setBought })}
    ${limitsSection(v, limits, setLimits)}
    ${grantsSection(v, grants)}
    ${sendSection(v)}
    ${refundSection(v)}
    ${historySection(v)}
  </main>`;
}

/**
 * Reloads the page's data when a shop's page paid through the wallet frame (another tab) or the window
 * gets the focus back, and settles payments a closed tab or a dropped connection left in flight. Returns
 * the clean-up.
 */
function followChanges(wallet: Wallet, reload: () => void) {
  // (Only payments older than any shop's page waits: a younger one may be in flight in another tab.)
  void recoverPayments(wallet, { olderThanMs: 180_000 })
    .then((r) => r.resent > 0 && reload())
    .catch(() => {});
  const changes = new BroadcastChannel(CHANGES);
  changes.onmessage = () => void wallet.refresh().then(reload);
  const onFocus = () => void wallet.refresh().then(reload);
  addEventListener('focus', onFocus);
  return () => {
    changes.close();
    removeEventListener('focus', onFocus);
  };
}
