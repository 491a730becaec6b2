/**
 * The wallet and broker portal: the customer's wallet lives in this browser (IndexedDB) and pays vendor
 * sites with coins; the broker sees only the chains' roots. Reads ./config.json for the broker and the shops.
 */
import { brokerApi, createClient } from '@netpay/api';

import { currency, formatAmount, formatMoney, money, NetPayError, parseAmount } from '@netpay/protocol';
import {
  createPayFetch,
  indexedDbStorage,
  openWallet,
  type PaidInfo,
  recoverPayments,
  type Wallet,
  type WalletGrant,
} from '@netpay/wallet';
import htm from 'htm';
import { h, render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { CHANGES, DEFAULT_LIMIT, readLimits, writeLimit } from './limits.ts';

const html = htm.bind(h);

interface Shop {
  readonly id: string;
  readonly name: string;
  readonly url: string;
  /** Something to buy there, e.g. /cards/birthday.html. */
  readonly sample: string;
}
interface PortalConfig {
  readonly broker: string;
  readonly shops: readonly Shop[];
}

type Balance = Awaited<ReturnType<Wallet['balance']>>;

function App({ config, wallet }: { config: PortalConfig; wallet: Wallet }) {
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

  // A shop's page paid through the wallet frame (another tab): reload the wallet to show it.
  useEffect(() => {
    // Payments a closed tab or a dropped connection left in flight: settled with their shops now.
    // (Only those older than any shop's page waits: a younger one may be in flight in another tab.)
    void recoverPayments(wallet, { olderThanMs: 180_000 })
      .then((r) => r.resent > 0 && setTick((t) => t + 1))
      .catch(() => {});
    const changes = new BroadcastChannel(CHANGES);
    changes.onmessage = () => void wallet.refresh().then(() => setTick((t) => t + 1));
    const onFocus = () => void wallet.refresh().then(() => setTick((t) => t + 1));
    addEventListener('focus', onFocus);
    return () => {
      changes.close();
      removeEventListener('focus', onFocus);
    };
  }, []);

  const show = (m: bigint) => (cur ? formatMoney(money(m, cur)) : m.toString());
  const parse = (text: string) => {
    if (!cur) throw new NetPayError('not_ready', 'the broker has not answered yet');
    const r = parseAmount(text.trim(), cur);
    if (!r.ok) throw new NetPayError('bad_amount', `${text} is not an amount like 1.50`);
    return r.value.minor as bigint;
  };

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
  const act = (fn: (form: FormData) => Promise<string | undefined>) => async (ev: Event) => {
    ev.preventDefault();
    setBusy(true);
    setError(null);
    setDone(null);
    try {
      const message = await fn(new FormData(ev.target as HTMLFormElement));
      if (message) setDone(message);
      setTick((t) => t + 1);
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
  const field = (f: FormData, name: string) => String(f.get(name) ?? '').trim();

  const notices = html`${error && html`<p class="alert" role="alert">${error}</p>`}
  ${done && html`<p class="ok" role="status">${done}</p>`}`;

  if (!signedIn) {
    return html`<main>
      ${notices}
      ${
        needsCode
          ? html`<section>
            <h2>Enter your code</h2>
            <form onSubmit=${act(async (f) => {
              await wallet.verify(field(f, 'code'));
              setNeedsCode(false);
              setSignedIn(true);
              return 'You are signed in.';
            })}>
              <label for="code">The 6-digit code we sent you</label>
              <input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" required />
              <button disabled=${busy}>Verify</button>
            </form>
          </section>`
          : html`<section>
              <h2>Create an account</h2>
              <form onSubmit=${act(async (f) => {
                await wallet.register({ login: field(f, 'login'), password: String(f.get('password')) });
                setNeedsCode(true);
                return `A code was sent to ${field(f, 'login')}.`;
              })}>
                <label for="reg-login">E-mail or phone</label>
                <input id="reg-login" name="login" autocomplete="username" required />
                <label for="reg-password">Password (10 characters or more)</label>
                <input id="reg-password" name="password" type="password" autocomplete="new-password" required />
                <button disabled=${busy}>Create account</button>
              </form>
            </section>
            <section>
              <h2>Sign in</h2>
              <form onSubmit=${act(async (f) => {
                const r = await wallet.login({
                  login: field(f, 'login'),
                  password: String(f.get('password')),
                });
                if (r.verificationRequired) {
                  setNeedsCode(true);
                  return 'New device: a code was sent to you.';
                }
                setSignedIn(true);
                return undefined;
              })}>
                <label for="login">Your login</label>
                <input id="login" name="login" autocomplete="username" required />
                <label for="password">Password</label>
                <input id="password" name="password" type="password" autocomplete="current-password" required />
                <button disabled=${busy}>Sign in</button>
              </form>
            </section>`
      }
    </main>`;
  }

  const policy = () => ({ maxPerRequest: parse(limit) });

  return html`<main>
    ${notices}
    <section>
      <h2>Account</h2>
      <p>Signed in as <strong>${wallet.signedInAs}</strong>.</p>
      <form onSubmit=${act(async () => {
        await wallet.signOut();
        setSignedIn(false);
        return 'Signed out. Your coins stay in this browser.';
      })}><button disabled=${busy}>Sign out</button></form>
    </section>
    <section aria-labelledby="balance-h">
      <h2 id="balance-h">Balance</h2>
      <p class="big" data-testid="coins">${balance ? show(balance.coins) : '…'}</p>
      <p>in coins; at the broker: <strong data-testid="at-broker">${balance?.atBroker != null ? show(balance.atBroker) : '…'}</strong></p>
      <table>
        <thead><tr><th>coin</th><th>coins left</th><th>value</th></tr></thead>
        <tbody>${(balance?.denominations ?? []).map(
          (d) => html`<tr><td>${show(d.coinValue)}</td><td>${d.coins}</td><td>${show(d.value)}</td></tr>`,
        )}</tbody>
      </table>
    </section>
    <section>
      <h2>Load from your bank</h2>
      <form onSubmit=${act(async (f) => {
        const r = await wallet.load(parse(field(f, 'amount')), {
          account: field(f, 'account'),
          token: field(f, 'token'),
        });
        return `Loaded ${show(r.amount)}.`;
      })}>
        <label for="amount">Amount to load</label><input id="amount" name="amount" inputmode="decimal" required />
        <label for="account">Bank account</label><input id="account" name="account" required />
        <label for="token">Bank token</label><input id="token" name="token" type="password" required />
        <button disabled=${busy}>Load</button>
      </form>
    </section>
    <section>
      <h2>Buy coins</h2>
      <form onSubmit=${act(async (f) => {
        const text = field(f, 'coins');
        const n = /^[1-9][0-9]{0,9}$/.test(text) ? Number(text) : 0;
        if (n < 1 || n > maxCoins)
          throw new NetPayError('bad_amount', `How many coins: a whole number from 1 to ${maxCoins}.`);
        const r = await wallet.buy([{ coinValue: BigInt(field(f, 'value')), n }]);
        return `Bought ${field(f, 'coins')} coins for ${show(r.total)}.`;
      })}>
        <label for="value">Coin value</label>
        <select id="value" name="value">${denominations.map((d) => html`<option value=${d}>${show(BigInt(d))}</option>`)}</select>
        <label for="coins">How many coins</label><input id="coins" name="coins" inputmode="numeric" defaultValue="100" required />
        <button disabled=${busy}>Buy</button>
      </form>
    </section>
    <section>
      <h2>Shops</h2>
      <label for="limit">Pay at most, per click</label>
      <input id="limit" value=${limit} onInput=${(e: Event) => setLimit((e.target as HTMLInputElement).value)} />
      ${config.shops.map(
        (s) =>
          html`<form onSubmit=${act(async () => {
            const res: Response & { netpay?: PaidInfo } = await createPayFetch(wallet, { policy: policy() })(
              s.url + s.sample,
            );
            if (!res.ok)
              throw new NetPayError(
                'shop_refused',
                `${s.name} answered ${res.status}: ${(await res.text()).slice(0, 200)}`,
              );
            const type = res.headers.get('content-type') ?? '';
            // The page's text only (parsed, never run: DOMParser does not execute scripts).
            const body = type.startsWith('text/html')
              ? (new DOMParser().parseFromString(await res.text(), 'text/html').body.textContent ?? '')
                  .replace(/\s+/g, ' ')
                  .trim()
              : type.startsWith('text/')
                ? await res.text()
                : `${(await res.arrayBuffer()).byteLength} bytes of ${type}`;
            setBought(`${s.name}: ${body}`);
            return res.netpay ? `Paid ${show(res.netpay.paid)} to ${s.name}.` : `${s.name} charged nothing.`;
          })}><button disabled=${busy}>Buy ${s.sample} at ${s.name}</button></form>`,
      )}
      ${bought && html`<p class="bought" data-testid="bought">${bought}</p>`}
    </section>
    <section aria-labelledby="limits-h">
      <h2 id="limits-h">Spending limits per shop</h2>
      <p>Shops' own pages pay from this wallet: without asking up to the first amount a payment, and never
        more than the second in a day at that shop.</p>
      ${config.shops.map((s) => {
        const l = limits[s.id] ?? DEFAULT_LIMIT;
        // Uncontrolled fields (a refresh of the page's data must not undo what the customer is typing);
        // made again once the currency is known, and after a save.
        return html`<form key=${`${s.id}-${cur ? 'ready' : 'wait'}-${l.askAbove}-${l.perDay}`} data-shop=${s.id} onSubmit=${act(
          async (f) => {
            writeLimit(s.id, {
              askAbove: parse(field(f, 'askAbove')).toString(),
              perDay: parse(field(f, 'perDay')).toString(),
            });
            setLimits(readLimits());
            return `Limits for ${s.name} saved.`;
          },
        )}>
          <h3><a href=${`${s.url}/`} target="_blank" rel="noopener">${s.name}</a></h3>
          <label for=${`ask-${s.id}`}>Pay without asking up to</label>
          <input id=${`ask-${s.id}`} name="askAbove" inputmode="decimal" defaultValue=${cur ? formatAmount(money(BigInt(l.askAbove), cur)) : ''} required />
          <label for=${`day-${s.id}`}>At most, per day</label>
          <input id=${`day-${s.id}`} name="perDay" inputmode="decimal" defaultValue=${cur ? formatAmount(money(BigInt(l.perDay), cur)) : ''} required />
          <button disabled=${busy}>Save limits for ${s.name}</button>
        </form>`;
      })}
    </section>
    <section aria-labelledby="grants-h">
      <h2 id="grants-h">Your NetPay account at shops</h2>
      <p>Shops where you chose "Pay from my NetPay account" charge your balance at the broker directly, up to
        the cap you gave them.</p>
      ${
        grants === null
          ? html`<p>…</p>`
          : grants.length === 0
            ? html`<p data-testid="no-grants">No shop charges your NetPay account.</p>`
            : html`<table>
          <thead><tr><th>shop</th><th>cap</th><th>spent</th><th></th></tr></thead>
          <tbody data-testid="grants">${grants.map(
            (g) => html`<tr>
              <td>${g.vendorName}${g.active ? '' : ' (not charging now)'}</td>
              <td>${show(g.cap)} ${g.period === 'day' ? 'a day' : 'in all'}</td>
              <td>${show(g.spent)}</td>
              <td><form onSubmit=${act(async () => {
                await wallet.withdrawGrant(g.vendorId);
                return `${g.vendorName} can no longer charge your NetPay account.`;
              })}><button disabled=${busy} aria-label=${`Stop ${g.vendorName} charging my account`}>Stop</button></form></td>
            </tr>`,
          )}</tbody>
        </table>
        <form onSubmit=${act(async (f) => {
          const g = grants.find((x) => x.vendorId === field(f, 'vendor'));
          if (!g) throw new NetPayError('bad_request', 'choose a shop');
          await wallet.setGrantCap(g.vendorId, parse(field(f, 'cap')), g.period);
          return `${g.vendorName} may now charge up to ${field(f, 'cap')}.`;
        })}>
          <label for="grant-vendor">Shop</label>
          <select id="grant-vendor" name="vendor">${grants.map((g) => html`<option value=${g.vendorId}>${g.vendorName}</option>`)}</select>
          <label for="grant-cap">New cap</label>
          <input id="grant-cap" name="cap" inputmode="decimal" required />
          <button disabled=${busy}>Change the cap</button>
        </form>`
      }
    </section>
    <section>
      <h2>Send money</h2>
      <form onSubmit=${act(async (f) => {
        const r = await wallet.send(field(f, 'to'), parse(field(f, 'amount')));
        return `Sent ${show(r.amount)} to ${r.to}.`;
      })}>
        <label for="to">To (their login)</label><input id="to" name="to" required />
        <label for="send-amount">Amount to send</label><input id="send-amount" name="amount" inputmode="decimal" required />
        <button disabled=${busy}>Send</button>
      </form>
    </section>
    <section>
      <h2>Refund</h2>
      <p>Hand every unspent coin back to your broker balance (then unload it to your bank).</p>
      <form onSubmit=${act(async () => {
        const r = await wallet.refund();
        return `Refunded ${show(r.amount)} from ${r.chains.length} chain(s).`;
      })}><button disabled=${busy}>Refund unspent coins</button></form>
    </section>
    <section class="wide">
      <h2>History</h2>
      <table>
        <thead><tr><th>when</th><th>shop</th><th>what</th><th>amount</th><th>status</th></tr></thead>
        <tbody data-testid="history">${wallet
          .history()
          .reverse()
          .map(
            (p) =>
              html`<tr><td>${p.at.slice(0, 19).replace('T', ' ')}</td><td>${p.vendorId}</td><td>${p.resource}</td><td>${show(BigInt(p.amount))}</td><td>${p.status}${p.code ? ` (${p.code})` : ''}</td></tr>`,
          )}</tbody>
      </table>
    </section>
  </main>`;
}

async function main() {
  const root = document.getElementById('app')!;
  try {
    const config = (await fetch('./config.json').then((r) => r.json())) as PortalConfig;
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
