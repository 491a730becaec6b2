/**
 * The broker operator's page: the ledger's totals and the audit verdict, coins outstanding, fraud evidence
 * and settlement runs, from the broker's /admin endpoints (the operator types the admin token; it stays in
 * this tab's session storage).
 */
import { type BrokerAnswers, brokerApi, createClient } from '@netpay/api';
import { currency, formatMoney, money } from '@netpay/protocol';
import htm from 'htm';
import { h, render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { z } from 'zod';
import { site } from './site.ts';

const html = htm.bind(h);

type Audit = z.infer<typeof BrokerAnswers.AuditAnswer>;
type Evidence = z.infer<typeof BrokerAnswers.EvidenceAnswer>['evidence'][number];
type Run = z.infer<typeof BrokerAnswers.SettlementRunsAnswer>['runs'][number];

const KINDS: Record<string, string> = {
  customer: 'Customers’ balances',
  coins: 'Coins outstanding (sold, not yet redeemed or refunded)',
  vendor: 'Vendors’ balances (waiting for payout)',
  fees: 'Broker fees earned',
  bank: 'Money at the bank (negative: owed in)',
  fraud: 'Fraud account',
};

function Admin({ broker }: { broker: string }) {
  const [token, setToken] = useState(sessionStorage.getItem('netpay-admin') ?? '');
  const [data, setData] = useState<{
    audit: Audit;
    evidence: Evidence[];
    runs: Run[];
    cur: ReturnType<typeof currency>;
  } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = async (t: string) => {
    try {
      const api = createClient(brokerApi, { url: broker, name: 'the broker', token: () => t });
      const [audit, evidence, runs, config] = await Promise.all([
        api.audit({}),
        api.evidence({}),
        api.settlementRuns({}),
        api.config({}),
      ]);
      sessionStorage.setItem('netpay-admin', t);
      setData({
        audit,
        evidence: evidence.evidence,
        runs: runs.runs,
        cur: currency(config.currency, config.exponent),
      });
      setError(null);
    } catch (e) {
      setError((e as Error).message);
    }
  };
  useEffect(() => {
    if (token) void load(token);
  }, []);
  const show = (m: string) => (data ? formatMoney(money(BigInt(m), data.cur)) : m);
  return html`<main>
    <section class="wide">
      <form onSubmit=${(e: Event) => {
        e.preventDefault();
        void load(token);
      }}>
        <label for="token">Admin token</label>
        <input id="token" type="password" value=${token} onInput=${(e: Event) => setToken((e.target as HTMLInputElement).value)} required />
        <button>Show the books</button>
      </form>
    </section>
    ${error && html`<p class="alert" role="alert">${error}</p>`}
    ${
      data &&
      html`<section>
        <h2>Audit</h2>
        <p class="big" data-testid="verdict">${data.audit.ok ? 'Balanced' : 'NOT balanced'}</p>
        <p>${data.audit.accounts} accounts, ${data.audit.transfers} transfers; the balances add up to ${show(data.audit.sumOfBalances)}.</p>
        ${!data.audit.ok && html`<p class="alert">Mismatched: ${data.audit.mismatched.map((m) => m.id).join(', ') || 'none'}; negative: ${data.audit.negative.join(', ') || 'none'}</p>`}
      </section>
      <section>
        <h2>Ledger totals</h2>
        <table><tbody>${Object.entries(data.audit.totals).map(
          ([k, v]) => html`<tr><th>${KINDS[k] ?? k}</th><td data-testid=${`total-${k}`}>${show(v)}</td></tr>`,
        )}</tbody></table>
      </section>
      <section class="wide">
        <h2>Fraud evidence (${data.evidence.length})</h2>
        ${
          data.evidence.length === 0
            ? html`<p>None.</p>`
            : html`<table><thead><tr><th>when</th><th>party</th><th>reason</th><th>chain</th></tr></thead><tbody>${data.evidence.map(
                (e) =>
                  html`<tr><td>${e.createdAt ?? ''}</td><td>${e.partyId}</td><td>${e.reason}</td><td>${e.chainId}</td></tr>`,
              )}</tbody></table>`
        }
      </section>
      <section class="wide">
        <h2>Settlement runs</h2>
        ${
          data.runs.length === 0
            ? html`<p>None yet.</p>`
            : html`<table><thead><tr><th>started</th><th>finished</th><th>payouts</th><th>total</th></tr></thead><tbody>${data.runs.map(
                (r) =>
                  html`<tr><td>${r.startedAt}</td><td>${r.finishedAt ?? 'running'}</td><td>${r.payouts}</td><td>${show(r.total)}</td></tr>`,
              )}</tbody></table>`
        }
      </section>`
    }
  </main>`;
}

async function main() {
  const root = document.getElementById('app')!;
  try {
    const { broker } = await site().config({});
    render(html`<header><h1>NetPay broker operator</h1></header><${Admin} broker=${broker} />`, root);
  } catch (e) {
    root.textContent = `The page could not start: ${(e as Error).message}`;
  }
}
void main();
