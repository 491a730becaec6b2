/**
 * The vendor dashboard: revenue over the last day as a chart, coins accepted, what the broker credited,
 * the balance waiting for payout and what was paid out, and each payee's share. Reads each shop's
 * /netpay/dashboard.json through this site (./shops/<id>/dashboard.json) for the shops in ./config.json.
 */
import type { RouteOutput, WebApi, WebShop } from '@netpay/api';
import { currency, formatAmount, formatMoney, isNetPayError, money } from '@netpay/protocol';
import htm from 'htm';
import { h, render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import { site } from './site.ts';

const html = htm.bind(h);

type Dashboard = RouteOutput<WebApi['dashboard']>;

function Chart({
  data,
  show,
  cur,
}: {
  data: Dashboard;
  show: (m: bigint) => string;
  cur: ReturnType<typeof currency>;
}) {
  const el = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!el.current) return;
    // The last hour, one point a minute (zero where nothing was sold), ending at the latest sale or now.
    const byMinute = new Map(data.revenue.map((r) => [r.minute, BigInt(r.amount)]));
    const end = data.revenue.at(-1)?.minute ?? Math.floor(Date.now() / 60_000) * 60_000;
    const minutes = Array.from({ length: 60 }, (_, k) => end - (59 - k) * 60_000);
    const xs = minutes.map((m) => m / 1000);
    // Plotted in whole minor units (exact as numbers at these sizes), labelled as money.
    const ys = minutes.map((m) => Number(byMinute.get(m) ?? 0n));
    const plot = new uPlot(
      {
        width: Math.min(900, el.current.clientWidth || 600),
        height: 220,
        title: `Revenue per minute (${data.currency.code})`,
        series: [{}, { label: 'revenue', stroke: '#166534', fill: '#16653422', points: { show: true } }],
        // Ticks on whole minor units only, so every label is an exact amount.
        axes: [
          {},
          {
            size: 70,
            incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 100_000, 1_000_000],
            values: (_u, vals) => vals.map((v) => formatAmount(money(BigInt(Math.round(v)), cur))),
          },
        ],
      },
      [xs, ys],
      el.current,
    );
    return () => plot.destroy();
  }, [data]);
  const total = data.revenue.reduce((a, r) => a + BigInt(r.amount), 0n);
  return html`<div>
    <div ref=${el} role="img" aria-label=${`revenue chart: ${show(total)} in the last day`}></div>
  </div>`;
}

function ShopPanel({ shop }: { shop: WebShop }) {
  const [data, setData] = useState<Dashboard | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = async () => {
    try {
      setData(await site().dashboard({ params: { id: shop.id } }));
      setError(null);
    } catch (e) {
      // The server says so itself when the shop does not answer; anything else is the shop's or the site's.
      const unreachable = isNetPayError(e) && e.code === 'shop_unreachable';
      setError(unreachable ? e.message : `${shop.name} cannot be reached: ${(e as Error).message}`);
    }
  };
  useEffect(() => {
    void load();
    const t = setInterval(load, 5_000);
    return () => clearInterval(t);
  }, []);
  if (error)
    return html`<section class="wide"><h2>${shop.name}</h2><p class="alert" role="alert">${error}</p></section>`;
  if (!data) return html`<section class="wide"><h2>${shop.name}</h2><p>Loading…</p></section>`;
  const cur = currency(data.currency.code, data.currency.exponent);
  const show = (m: bigint | string) => formatMoney(money(BigInt(m), cur));
  const s = data.statement;
  return html`<section class="wide" aria-labelledby=${`h-${shop.id}`}>
    <h2 id=${`h-${shop.id}`}>${data.name}</h2>
    <${Chart} data=${data} show=${show} cur=${cur} />
    <table>
      <tbody>
        <tr><th>Accepted (coins taken)</th><td data-testid=${`accepted-${shop.id}`}>${show(s.accepted)}</td></tr>
        <tr><th>Redeemed (credited by the broker)</th><td>${show(s.redeemed)}</td></tr>
        <tr><th>Receipted, waiting to be credited</th><td>${show(s.awaitingRedemption)}</td></tr>
        <tr class=${BigInt(s.missing) > 0n ? 'alert' : ''}><th>Receipted but refused by the broker (missing)</th><td data-testid=${`missing-${shop.id}`}>${show(s.missing)}</td></tr>
        <tr><th>Claims waiting for an answer / refused</th><td>${s.claimsAwaitingAnswer} / ${s.refusedClaims}</td></tr>
        ${s.broker && !s.broker.matches && html`<tr class="alert"><th>The broker's record of credits differs</th><td role="alert">${show(s.broker.credited)} at the broker</td></tr>`}
        <tr><th>At the broker, waiting for payout</th><td>${s.broker ? show(s.broker.balance) : 'broker unreachable'}</td></tr>
        <tr><th>Paid out / payouts pending</th><td>${s.broker ? `${show(s.broker.paidOut)} / ${show(s.broker.payoutsPending)}` : '–'}</td></tr>
        <tr><th>Chains held</th><td>${s.chains}</td></tr>
        <tr><th>Charged to NetPay accounts (server-side wallets)</th><td data-testid=${`wallet-${shop.id}`}>${show(s.walletCharged)}</td></tr>
        <tr><th>Failed responses to refund: waiting for the broker / owed</th><td>${show(s.walletVoidsPending)} / ${show(s.walletOwed)}</td></tr>
      </tbody>
    </table>
    ${
      data.payees.length > 0 &&
      html`<h3>Payees' shares (gross, before the broker fee)</h3>
      <table><tbody>${data.payees.map((p) => html`<tr><th>${p.payeeId}</th><td>${show(p.amount)}</td></tr>`)}</tbody></table>`
    }
  </section>`;
}

async function main() {
  const root = document.getElementById('app')!;
  try {
    const { shops } = await site().config({});
    render(
      html`<header><h1>NetPay vendor dashboard</h1></header>
        <main>${shops.map((s) => html`<${ShopPanel} shop=${s} />`)}</main>`,
      root,
    );
  } catch (e) {
    root.textContent = `The dashboard could not start: ${(e as Error).message}`;
  }
}
void main();
