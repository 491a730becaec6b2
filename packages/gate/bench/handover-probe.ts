/**
 * Hand-over latency alone (issue 15), as vendor.bench.ts's `handover()` measures it: a broker in this
 * process, vendors A and B in processes of their own (vendor-process.ts), `chains` chains each paid once
 * at A, then the next coin of each at B (B claims, is told A holds it, asks A for a hand-over, records it at
 * the broker, holds the chain, accepts the coin). Prints p50/p90/p99 of the payments at B and, beside them,
 * the broker's own time per directory route (measured on its HTTP server), so what is left is the
 * vendors' and the network's, and the CPU time each process spent per hand-over (all its threads, its
 * background work included: backups, PGlite) — a figure other loads on the machine barely move.
 *
 *   npx tsx packages/gate/bench/handover-probe.ts [runs=3] [chains=200] [journal]
 *
 * `journal`: the vendors keep PGlite on disk with the journal, as `netpay vendor start` runs them and as
 * the benchmark's hand-over does; without it, in memory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { broker, heldChains, median, quantile, round, server, timeHandovers } from './harness.ts';
import type { LoadResult } from './load-process.ts';

const runs = Number(process.argv[2] ?? 3);
const count = Number(process.argv[3] ?? 200);
const journal = process.argv[4] === 'journal';

/** Per broker route, the time from a request's arrival to its response's end (ms), while `on`. */
function brokerTimes(srv: Server) {
  const times = new Map<string, number[]>();
  let on = false;
  srv.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    if (!on) return;
    const t0 = performance.now();
    const path = (req.url ?? '').split('?')[0]!;
    res.once('finish', () => {
      const list = times.get(path) ?? [];
      list.push(performance.now() - t0);
      times.set(path, list);
    });
  });
  return {
    start: () => {
      times.clear();
      on = true;
    },
    stop: () => {
      on = false;
      return times;
    },
  };
}

const stats = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return {
    n: xs.length,
    p50: round(quantile(sorted, 0.5), 2),
    p90: round(quantile(sorted, 0.9), 2),
    p99: round(quantile(sorted, 0.99), 2),
    mean: round(xs.reduce((a, x) => a + x, 0) / Math.max(1, xs.length), 2),
  };
};

async function once(brk: Awaited<ReturnType<typeof broker>>, run: number) {
  const dir = journal ? mkdtempSync(join(tmpdir(), 'netpay-handover-probe-')) : undefined;
  const env = (name: string): Record<string, string> => (dir ? { NETPAY_BENCH_DATA: join(dir, name) } : {});
  const a = await server(brk, `probe-a-${run}`, env('a'));
  const b = await server(brk, `probe-b-${run}`, env('b'));
  const timing = brokerTimes(brk.b.app.server);
  try {
    const held = await heldChains(brk, a, count, 4);
    const times: number[] = [];
    const handOver = async (): Promise<LoadResult> => {
      times.push(...(await timeHandovers(b, held)));
      return { requests: count, requestsPerSec: 0, p50Ms: 0, p99Ms: 0, non2xx: 0 };
    };
    timing.start();
    const cpu = process.cpuUsage();
    // Each server counts its CPU over the window: A answers one hand-over request, B one payment each.
    let atB = 0;
    const atA = await a.window(async () => {
      const w = await b.window(handOver);
      atB = w.cpuUsPerRequest;
      return w;
    });
    const used = process.cpuUsage(cpu);
    const routes = Object.fromEntries([...timing.stop()].map(([path, xs]) => [path, stats(xs)]));
    const cpuUs = {
      vendorA: Math.round(atA.cpuUsPerRequest),
      vendorB: Math.round(atB),
      brokerAndProbe: Math.round((used.user + used.system) / count),
    };
    return { total: stats(times), cpuUsPerHandover: cpuUs, brokerRoutes: routes };
  } finally {
    for (const s of [a, b]) await s.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

const brk = await broker();
try {
  const results = [];
  for (let i = 0; i < runs; i++) {
    const r = await once(brk, i);
    results.push(r);
    console.log(JSON.stringify({ run: i, ...r }));
  }
  console.log(
    JSON.stringify({
      runs,
      chains: count,
      medianP50Ms: median(results.map((r) => r.total.p50)),
      medianP99Ms: median(results.map((r) => r.total.p99)),
      medianCpuUsPerHandover: median(
        results.map(
          (r) => r.cpuUsPerHandover.vendorA + r.cpuUsPerHandover.vendorB + r.cpuUsPerHandover.brokerAndProbe,
        ),
      ),
    }),
  );
} finally {
  await brk.b.app.close();
  await brk.db.close();
}
