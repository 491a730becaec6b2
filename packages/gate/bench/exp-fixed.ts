import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { broker, CONNECTIONS, generator, heldChains, saturate, server } from './harness.ts';

const brk = await broker();
const dir = mkdtempSync(join(tmpdir(), 'exp-'));
const v = await server(brk, 'bench-vendor', { NETPAY_BENCH_DATA: join(dir, 'd') });
const paid = await generator(await heldChains(brk, v, 2 * CONNECTIONS, 4000));
const free = await generator();
const rate = Number(process.env.RATE ?? 3000);
for (let i = 0; i < Number(process.env.N ?? 3); i++) {
  const u = await v.window(() => free.run({ ...saturate(`${v.url}/free`, false), overallRate: rate }), true);
  const p = await v.window(() => paid.run({ ...saturate(`${v.url}/paid`, true), overallRate: rate }), true);
  console.log(
    JSON.stringify({
      u: { p50: u.p50Ms, p99: u.p99Ms, s99: u.serverP99Ms, loop: u.loopMaxMs, cpu: u.cpuUsPerRequest },
      p: { p50: p.p50Ms, p99: p.p99Ms, s99: p.serverP99Ms, loop: p.loopMaxMs, cpu: p.cpuUsPerRequest },
    }),
  );
}
if (process.env.FULL) {
  for (let i = 0; i < 3; i++) {
    const u = await v.window(() => free.run(saturate(`${v.url}/free`, false)));
    const p = await v.window(() => paid.run(saturate(`${v.url}/paid`, true)));
    console.log(
      JSON.stringify({
        u: { rps: u.requestsPerSec, cpu: u.cpuUsPerRequest },
        p: { rps: p.requestsPerSec, cpu: p.cpuUsPerRequest },
      }),
    );
  }
}
await v.stop();
free.stop();
paid.stop();
await brk.b.app.close();
await brk.db.close();
