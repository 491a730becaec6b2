/**
 * One buyer process downloading the same file again and again (`npx tsx --conditions=node
 * packages/peer/bench/buyer-loop.ts`; MIB, default 100, RUNS, default 12, PRICE per chunk, default 0):
 * the CIS here, one seller and one buyer in processes of their own (peer-process.ts), each run a new
 * peer in the buyer process. Prints each run's time and the buyer's CPU. It found that some 5–9 s into
 * the buyer process its CPU per 100 MiB went from ~0.7 s to ~2 s and stayed there — back-to-back
 * incremental mark-compacts (`node --trace-gc --conditions=node --import tsx …` shows them): every chunk
 * was a new 256 KiB buffer kept across its write. The download now reads chunks into buffers it reuses;
 * 18 runs here stay at 0.5–0.8 s. p2p.bench.ts still starts a new buyer process per run, as `netpay peer
 * get` is one.
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
