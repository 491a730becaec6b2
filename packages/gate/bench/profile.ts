/**
 * One kind of window on one vendor process, for looking into its cost (not part of `npm run bench`):
 *   MODE=paid|free N=3 npx tsx packages/gate/bench/profile.ts
 * (RATE=rps: at that fixed rate, each request timed inside the server) prints each window's figures (CPU µs per request, system part, CPU ticks of the main thread and of the
 * others). With NETPAY_BENCH_PROFILE=DIR the server writes V8 CPU profiles there; VENV='{"NETPAY_BENCH_THREAD":"0"}'
 * passes settings to the server process (vendor-process.ts).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { broker, CONNECTIONS, generator, heldChains, saturate, server } from './harness.ts';

const brk = await broker();
const dir = mkdtempSync(join(tmpdir(), 'exp-'));
const mode = process.env.MODE ?? 'paid';
const env = JSON.parse(process.env.VENV ?? '{}');
const v = await server(brk, 'bench-vendor', { NETPAY_BENCH_DATA: join(dir, 'd'), ...env });
const g =
  mode === 'paid' ? await generator(await heldChains(brk, v, 2 * CONNECTIONS, 4000)) : await generator();
const url = `${v.url}/${mode === 'paid' ? 'paid' : 'free'}`;
await g.run({ ...saturate(url, mode === 'paid'), seconds: 1 });
for (let i = 0; i < Number(process.env.N ?? 3); i++) {
  const rate = process.env.RATE ? { overallRate: Number(process.env.RATE) } : {};
  const w = await v.window(
    () => g.run({ ...saturate(url, mode === 'paid'), ...rate }),
    'overallRate' in rate,
  );
  console.log(
    JSON.stringify({
      mode,
      rps: w.requestsPerSec,
      cpu: w.cpuUsPerRequest.toFixed(1),
      sys: w.systemUsPerRequest.toFixed(1),
      p99: w.p99Ms,
      serverP99: w.serverP99Ms,
      th: w.threads,
      loop: w.loopMaxMs,
      non2xx: w.non2xx,
    }),
  );
}
await v.stop();
g.stop();
await brk.b.app.close();
await brk.db.close();
