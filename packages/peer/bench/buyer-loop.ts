/**
 * One buyer process downloading the same file again and again (`npx tsx --conditions=node
 * packages/peer/bench/buyer-loop.ts`; MIB, default 100, RUNS, default 12, PRICE per chunk, default 0):
 * the CIS here, one seller and one buyer in processes of their own (peer-process.ts), each run a new
 * peer in the buyer process. Prints each run's time and the buyer's CPU. Seen here: some 9 s into the
 * buyer process its CPU per 100 MiB goes from ~0.7 s to ~2 s and stays there — back-to-back incremental
 * mark-compacts started by task, ~1 MB freed each (run it as `node --trace-gc --conditions=node --import
 * tsx …` to see them). p2p.bench.ts uses a new buyer process per run for that reason.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cis, peerProcess, randomFile, seller } from './p2p.bench.ts';

const mib = Number(process.env.MIB ?? 100);
const runs = Number(process.env.RUNS ?? 12);
const dir = mkdtempSync(join(tmpdir(), 'netpay-buyer-loop-'));
const c = await cis();
const share = randomFile(join(dir, 'share'), 'file.bin', mib);
const s = await seller(c.url, share, join(dir, 'seller'), BigInt(process.env.PRICE ?? '0'));
const buyer = peerProcess(c.url);
try {
  await buyer.ready;
  for (let i = 0; i < runs; i++) {
    const r = await buyer.ask<{ ms: number; cpuUs: number; spent: string }>({
      type: 'get',
      fileId: s.fileId('file.bin'),
      dataDir: join(dir, `buyer-${i}`),
      out: join(dir, `out-${i}.bin`),
    });
    console.log(
      `run ${i}: ${Math.round(r.ms)} ms, buyer CPU ${Math.round(r.cpuUs / 1000)} ms, spent ${r.spent}`,
    );
  }
} finally {
  await buyer.stop();
  await s.stop();
  await c.close();
  rmSync(dir, { recursive: true, force: true });
}
