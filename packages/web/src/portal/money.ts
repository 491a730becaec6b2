/**
 * The wallet page's own money sections, signed in: the account (sign out), the balance by denomination,
 * load from the bank, buy coins, send money, refund and the history.
 */
import { NetPayError } from '@netpay/protocol';
import type { Wallet } from '@netpay/wallet';
import { field, html, type View } from './view.ts';

type Balance = Awaited<ReturnType<Wallet['balance']>>;

export function accountSection({ wallet, act, busy }: View, signedOut: () => void) {
  return html`<section>
      <h2>Account</h2>
      <p>Signed in as <strong>${wallet.signedInAs}</strong>.</p>
      <form onSubmit=${act(async () => {
        await wallet.signOut();
        signedOut();
        return 'Signed out. Your coins stay in this browser.';
      })}><button disabled=${busy}>Sign out</button></form>
    </section>`;
}

export function balanceSection({ show }: View, balance: Balance | null) {
  return html`<section aria-labelledby="balance-h">
      <h2 id="balance-h">Balance</h2>
      <p class="big" data-testid="coins">${balance ? show(balance.coins) : '…'}</p>
      <p>in coins; at the broker: <strong data-testid="at-broker">${balance?.atBroker != null ? show(balance.atBroker) : '…'}</strong></p>
      <table>
        <thead><tr><th>coin</th><th>coins left</th><th>value</th></tr></thead>
        <tbody>${(balance?.denominations ?? []).map(
          (d) => html`<tr><td>${show(d.coinValue)}</td><td>${d.coins}</td><td>${show(d.value)}</td></tr>`,
        )}</tbody>
      </table>
    </section>`;
}

export function loadSection({ wallet, act, busy, show, parse }: View) {
  return html`<section>
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
    </section>`;
}

/** Buys one chain of `coins` coins of a broker denomination (at most the broker's longest chain). */
export function buySection({ wallet, act, busy, show }: View, denominations: string[], maxCoins: number) {
  return html`<section>
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
    </section>`;
}

export function sendSection({ wallet, act, busy, show, parse }: View) {
  return html`<section>
      <h2>Send money</h2>
      <form onSubmit=${act(async (f) => {
        const r = await wallet.send(field(f, 'to'), parse(field(f, 'amount')));
        return `Sent ${show(r.amount)} to ${r.to}.`;
      })}>
        <label for="to">To (their login)</label><input id="to" name="to" required />
        <label for="send-amount">Amount to send</label><input id="send-amount" name="amount" inputmode="decimal" required />
        <button disabled=${busy}>Send</button>
      </form>
    </section>`;
}

export function refundSection({ wallet, act, busy, show }: View) {
  return html`<section>
      <h2>Refund</h2>
      <p>Hand every unspent coin back to your broker balance (then unload it to your bank).</p>
      <form onSubmit=${act(async () => {
        const r = await wallet.refund();
        return `Refunded ${show(r.amount)} from ${r.chains.length} chain(s).`;
      })}><button disabled=${busy}>Refund unspent coins</button></form>
    </section>`;
}

export function historySection({ wallet, show }: View) {
  return html`<section class="wide">
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
    </section>`;
}
