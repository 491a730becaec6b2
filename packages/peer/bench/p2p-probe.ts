/**
 * Where a paid download spends its time next to an unpaid one (`npx tsx --conditions=node
 * packages/peer/bench/p2p-probe.ts`): the CIS and a buyer in this process, a paid and a free seller in
 * processes of their own (peer-process.ts), `download` run here with its wallet and fetch timed per chunk:
 * paying (the wallet), the request until the answer's headers (the seller: gate, reading the chunk), the
 * body, and the rest (checking the leaf, writing the part file); and the seller's CPU per chunk. Paid and
 * unpaid runs interleaved; PROBE_MIB (default 40) and PROBE_RUNS (default 3) say how much and how often.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cisClient, ensureRegistered, peerIdentity } from '../src/cis.ts';
import { download } from '../src/get/download.ts';
import { openPeerWallet } from '../src/wallet/peer-wallet.ts';
import { cis, randomFile, seller } from './p2p.bench.ts';

const MIB_FILE = Number(process.env.PROBE_MIB ?? 40);
const RUNS = Number(process.env.PROBE_RUNS ?? 3);
const chunks = (MIB_FILE * 1024 * 1024) / 262_144;

const dir = mkdtempSync(join(tmpdir(), 'netpay-p2p-probe-'));
const c = await cis();
const paid = await seller(c.url, randomFile(join(dir, 'p'), 'f.bin', MIB_FILE), join(dir, 'sp'), 10n);
const free = await seller(c.url, randomFile(join(dir, 'f'), 'f.bin', MIB_FILE), join(dir, 'sf'), 0n);

async function run(s: typeof paid, price: bigint, n: number) {
  const fileId = s.fileId('f.bin');
  const id = peerIdentity(join(dir, `buyer-${n}`));
  const client = cisClient(c.url, id);
  await ensureRegistered(client, id, {});
  const wallet = await openPeerWallet({
    path: join(id.dataDir, 'wallet.json'),
    peerId: id.peerId,
    signer: id.signer,
    buy: (body, key) => client.peerBuy({ body, key }),
  });
  if (price > 0n) await wallet.buy(price, chunks + 2);
  const t = { pay: 0, headers: 0, body: 0 };
  const timed = async <T>(k: keyof typeof t, p: Promise<T>) => {
    const t0 = performance.now();
    try {
      return await p;
    } finally {
      t[k] += performance.now() - t0;
    }
  };
  const out = join(dir, `out-${n}`);
  const sellerCpu0 = await s.cpuUs();
  const t0 = performance.now();
  await download({
    fileId,
    sellers: [
      {
        peerId: s.peerId,
        url: (await client.fileOffer({ params: { fileId } })).peers[0]!.url,
        price,
      },
    ],
    out,
    wallet: { pay: (seller, amount) => timed('pay', wallet.pay(seller, amount)), accepted: wallet.accepted },
    fetch: async (url, init) => {
      const res = await timed('headers', fetch(url, init));
      const body = await timed('body', res.arrayBuffer());
      return new Response(body, { status: res.status, headers: res.headers });
    },
  });
  const total = performance.now() - t0;
  const sellerCpu = (await s.cpuUs()) - sellerCpu0;
  await wallet.close();
  await rm(out, { force: true });
  const perChunk = (ms: number) => Number(((ms * 1000) / chunks).toFixed(0));
  return {
    kind: price > 0n ? 'paid' : 'unpaid',
    MiBps: Number((MIB_FILE / (total / 1000)).toFixed(1)),
    usPerChunk: {
      total: perChunk(total),
      pay: perChunk(t.pay),
      headers: perChunk(t.headers),
      body: perChunk(t.body),
      rest: perChunk(total - t.pay - t.headers - t.body),
    },
    sellerCpuUsPerChunk: Math.round(sellerCpu / chunks),
  };
}

try {
  let n = 0;
  for (let i = 0; i < RUNS; i++) {
    console.log(JSON.stringify(await run(paid, 10n, n++)));
    console.log(JSON.stringify(await run(free, 0n, n++)));
  }
} finally {
  await paid.stop();
  await free.stop();
  await c.close();
  rmSync(dir, { recursive: true, force: true });
}
