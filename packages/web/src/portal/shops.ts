/**
 * The wallet page's shop sections: buy a shop's sample (paid with coins within "pay at most, per click"),
 * the spending limits per shop that the wallet frame applies, and the shops that charge the NetPay account
 * (server-side wallet) with their caps.
 */
import { formatAmount, money, NetPayError } from '@netpay/protocol';
import { createPayFetch, type PaidInfo, type WalletGrant } from '@netpay/wallet';
import { DEFAULT_LIMIT, readLimits, type ShopLimit, writeLimit } from '../limits.ts';
import { field, html, type Shop, type View } from './view.ts';

/** A button per shop that buys its sample; `bought` is what the last one brought, as text. */
export function shopsSection(
  v: View,
  s: { limit: string; setLimit(text: string): void; bought: string | null; setBought(text: string): void },
) {
  const { config, act, busy } = v;
  return html`<section>
      <h2>Shops</h2>
      <label for="limit">Pay at most, per click</label>
      <input id="limit" value=${s.limit} onInput=${(e: Event) => s.setLimit((e.target as HTMLInputElement).value)} />
      ${config.shops.map(
        (shop) =>
          html`<form onSubmit=${act(async () => {
            const { body, paid } = await buySample(v, shop, v.parse(s.limit));
            s.setBought(`${shop.name}: ${body}`);
            return paid !== undefined
              ? `Paid ${v.show(paid)} to ${shop.name}.`
              : `${shop.name} charged nothing.`;
          })}><button disabled=${busy}>Buy ${shop.sample} at ${shop.name}</button></form>`,
      )}
      ${s.bought && html`<p class="bought" data-testid="bought">${s.bought}</p>`}
    </section>`;
}

/** Fetches a shop's sample, paying at most `maxPerRequest`; the page's text, or what kind of file it is. */
async function buySample(v: View, shop: Shop, maxPerRequest: bigint) {
  const res: Response & { netpay?: PaidInfo } = await createPayFetch(v.wallet, { policy: { maxPerRequest } })(
    shop.url + shop.sample,
  );
  if (!res.ok)
    throw new NetPayError(
      'shop_refused',
      `${shop.name} answered ${res.status}: ${(await res.text()).slice(0, 200)}`,
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
  return { body, paid: res.netpay?.paid };
}

export function limitsSection(
  v: View,
  limits: Record<string, ShopLimit>,
  setLimits: (l: Record<string, ShopLimit>) => void,
) {
  const { config, act, busy, cur, parse } = v;
  const shown = (minor: string) => (cur ? formatAmount(money(BigInt(minor), cur)) : '');
  return html`<section aria-labelledby="limits-h">
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
          <input id=${`ask-${s.id}`} name="askAbove" inputmode="decimal" defaultValue=${shown(l.askAbove)} required />
          <label for=${`day-${s.id}`}>At most, per day</label>
          <input id=${`day-${s.id}`} name="perDay" inputmode="decimal" defaultValue=${shown(l.perDay)} required />
          <button disabled=${busy}>Save limits for ${s.name}</button>
        </form>`;
      })}
    </section>`;
}

export function grantsSection(v: View, grants: WalletGrant[] | null) {
  return html`<section aria-labelledby="grants-h">
      <h2 id="grants-h">Your NetPay account at shops</h2>
      <p>Shops where you chose "Pay from my NetPay account" charge your balance at the broker directly, up to
        the cap you gave them.</p>
      ${
        grants === null
          ? html`<p>…</p>`
          : grants.length === 0
            ? html`<p data-testid="no-grants">No shop charges your NetPay account.</p>`
            : grantsTable(v, grants)
      }
    </section>`;
}

/** Each shop's cap and what it spent, with Stop; and a form to change a cap. */
function grantsTable({ wallet, act, busy, show, parse }: View, grants: WalletGrant[]) {
  return html`<table>
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
        </form>`;
}
