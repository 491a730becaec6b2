/**
 * One load run (issue 18 §5): the cluster (cluster.ts), wallet drivers in their own processes (driver.ts)
 * paying for `seconds`, then the verdict once every vendor has redeemed what it accepted:
 * - I1: what the wallets hold receipts for, per vendor, is what the vendor accepted and what the broker
 *   credited it (fee 0), with no refused claim;
 * - no coin accepted twice: no double-spend evidence, no charge-back, every chain's account balanced;
 * - the broker's ledger audit balances;
 * - settlement ran once per period (never two runs closer than the period, with two brokers too).
 */
import { fileURLToPath } from 'node:url';
import { type Cluster, type ClusterOptions, startCluster } from './cluster.ts';
import type { DriverResult, DriverSettings } from './driver.ts';
import { line, type Proc, script, sleep, stop } from './procs.ts';

const DRIVER = fileURLToPath(new URL('./driver.ts', import.meta.url));

export interface LoadOptions extends Omit<ClusterOptions, 'settlementSeconds'> {
  readonly wallets: number;
  readonly seconds: number;
  /** Wallets per driver process (default 17: 50 wallets in 3 processes). */
  readonly walletsPerDriver?: number;
  readonly log?: (line: string) => void;
}

const percentile = (sorted: readonly number[], p: number) =>
  sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

export async function startDrivers(c: Cluster, o: LoadOptions, coins: number): Promise<Proc[]> {
  const per = o.walletsPerDriver ?? 17;
  const count = Math.ceil(o.wallets / per);
  const run = Date.now().toString(36);
  const drivers = Array.from({ length: count }, (_, k) => {
    const settings: DriverSettings = {
      brokerUrl: c.brokerUrl,
      bankUrl: c.bankUrl,
      vendors: c.vendors.map((v) => ({ id: v.id, url: v.url })),
      prefix: `load-${run}-${k}`,
      wallets: Math.min(per, o.wallets - k * per),
      chains: 2,
      coins,
      seconds: o.seconds,
    };
    return script(`driver-${k + 1}`, DRIVER, { LOAD_DRIVER: JSON.stringify(settings) });
  });
  await Promise.all(drivers.map((d) => line(d, 0, 300_000)));
  return drivers;
}

/** Starts every driver at once and gathers their results. */
export async function drive(drivers: Proc[], seconds: number): Promise<DriverResult[]> {
  for (const d of drivers) d.child.stdin!.write('go\n');
  const lines = await Promise.all(drivers.map((d) => line(d, 1, seconds * 1000 + 180_000)));
  return lines.map((l) => (JSON.parse(l) as { result: DriverResult }).result);
}

function figures(results: DriverResult[]) {
  const latencies = results.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const payments = latencies.length;
  const ms = Math.max(...results.map((r) => r.ms));
  const errorsBy: Record<string, number> = {};
  for (const r of results)
    for (const [k, v] of Object.entries(r.errors)) errorsBy[k] = (errorsBy[k] ?? 0) + v;
  return {
    payments,
    paymentsPerSecond: Math.round((payments / (ms / 1000)) * 10) / 10,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies.at(-1) ?? null,
    errors: Object.values(errorsBy).reduce((a, b) => a + b, 0),
    errorsBy,
  };
}

function receiptedByVendor(results: DriverResult[]): Map<string, bigint> {
  const m = new Map<string, bigint>();
  for (const r of results)
    for (const [id, v] of Object.entries(r.receipted)) m.set(id, (m.get(id) ?? 0n) + BigInt(v));
  return m;
}

interface VendorStatement {
  accepted: string;
  redeemed: string;
  missing: string;
  refusedClaims: number;
  broker: { credited: string; balance: string; paidOut: string; payoutsPending: string } | null;
}

/** I1 per vendor: receipted = accepted = redeemed = credited at the broker, once redemption caught up. */
async function redeemedAll(c: Cluster, receipted: Map<string, bigint>) {
  const vendors: Record<string, unknown> = {};
  let ok = true;
  for (const v of c.vendors) {
    const want = (receipted.get(v.id) ?? 0n).toString();
    const s = await statementOnceRedeemed(v.url, want);
    if (s.accepted === undefined) {
      // The vendor cannot answer for what it accepted: I1 cannot be shown for it. Its last error says why.
      ok = false;
      vendors[v.id] = { receipted: want, statement: s, lastError: lastError(v.proc.stderr()), ok: false };
      continue;
    }
    const good =
      s.accepted === want && s.redeemed === want && s.broker?.credited === want && s.refusedClaims === 0;
    ok &&= good;
    vendors[v.id] = {
      receipted: want,
      accepted: s.accepted,
      credited: s.broker?.credited ?? null,
      refusedClaims: s.refusedClaims,
      ok: good,
    };
  }
  return { ok, vendors };
}

/** The vendor's statement once it has redeemed everything (or after 90 s, as it then is). */
async function statementOnceRedeemed(url: string, want: string): Promise<VendorStatement> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const s = (await (await fetch(`${url}/netpay/statement`)).json()) as VendorStatement;
    const caughtUp = s.accepted === s.redeemed && s.missing === '0' && s.broker?.credited === s.redeemed;
    if ((caughtUp && s.accepted === want) || s.accepted === undefined || Date.now() > deadline) return s;
    await sleep(500);
  }
}

/** The message of the last error a service logged (pino JSON lines, level 50 or more). */
function lastError(stderr: string): string | null {
  const line = stderr
    .split('\n')
    .reverse()
    .find((l) => /"level":(50|60)/.test(l));
  if (!line) return null;
  try {
    const entry = JSON.parse(line) as { msg?: string; err?: { message?: string } };
    return entry.err?.message ?? entry.msg ?? null;
  } catch {
    return line.slice(0, 500);
  }
}

/** Every chain's account at the broker: balanced, nothing charged back. */
async function chainsBalanced(c: Cluster, chainIds: string[]) {
  let balanced = 0;
  const bad: string[] = [];
  for (const id of chainIds) {
    const a = await c.admin<{ balanced: boolean; chargedBackCoins: number }>(`/admin/chains/${id}`);
    if (a.balanced && a.chargedBackCoins === 0) balanced++;
    else bad.push(id);
  }
  return { chains: chainIds.length, balanced, bad: bad.slice(0, 10) };
}

/** Settlement runs, and whether any two started closer than the period (a run done twice). */
async function settlement(c: Cluster, periodSeconds: number) {
  const { runs } = await c.admin<{ runs: { startedAt: string; payouts: number }[] }>(
    '/admin/settlement/runs',
  );
  const starts = runs.map((r) => Date.parse(r.startedAt)).sort((a, b) => a - b);
  const gaps = starts.slice(1).map((t, k) => t - starts[k]!);
  const minGapMs = gaps.length > 0 ? Math.min(...gaps) : null;
  return {
    runs: runs.length,
    payouts: runs.reduce((a, r) => a + r.payouts, 0),
    minGapMs,
    // Two processes running one period's settlement would start it at about the same moment; a run's
    // recorded start lags its claim a little, so half a period tells the two apart on a busy machine.
    oncePerPeriod: minGapMs === null || minGapMs >= periodSeconds * 500,
  };
}

/** How the requests spread over the broker processes (their own request counters). */
async function spread(c: Cluster) {
  const requests = await Promise.all(
    c.brokerUrls.map(async (u) => {
      const text = await (await fetch(`${u}/metrics`)).text();
      return text
        .split('\n')
        .filter((l) => l.startsWith('http_requests_total{'))
        .reduce((a, l) => a + Number(l.split(' ').at(-1)), 0);
    }),
  );
  return { requests, connections: c.balancer?.connections() ?? null };
}

export async function runLoad(o: LoadOptions) {
  const log = o.log ?? (() => {});
  const settlementSeconds = Math.max(3, Math.ceil(o.seconds / 4));
  const c = await startCluster({ ...o, settlementSeconds });
  const drivers: Proc[] = [];
  try {
    log(`load: ${o.brokers} broker(s), ${o.vendors} vendors up; ${o.wallets} wallets getting ready`);
    drivers.push(...(await startDrivers(c, o, Math.max(200, o.seconds * 40))));
    log(`load: paying for ${o.seconds} s`);
    const results = await drive(drivers, o.seconds);
    const f = figures(results);
    log(`load: ${JSON.stringify(f)}; checking`);
    const i1 = await redeemedAll(c, receiptedByVendor(results));
    const chains = await chainsBalanced(
      c,
      results.flatMap((r) => r.chainIds),
    );
    const found = (await c.admin<{ evidence: unknown[] }>('/admin/evidence')).evidence;
    const evidence = found.length;
    const audit = await c.admin<{ ok: boolean }>('/admin/audit');
    const s = await settlement(c, settlementSeconds);
    const verdict = {
      ok: audit.ok && i1.ok && evidence === 0 && chains.balanced === chains.chains && s.oncePerPeriod,
      audit: audit.ok,
      i1: i1.ok,
      doubleSpendEvidence: evidence,
      ...(evidence > 0 ? { evidenceSample: found.slice(0, 2) } : {}),
      chains,
      settlement: s,
      vendors: i1.vendors,
    };
    return {
      brokers: o.brokers,
      vendors: o.vendors,
      wallets: o.wallets,
      seconds: o.seconds,
      ...f,
      verdict,
      spread: await spread(c),
    };
  } finally {
    await Promise.all(drivers.map((d) => stop(d, 5_000)));
    await c.close();
  }
}
