/**
 * One peer for the P2P benchmark, in a process of its own (forked by p2p.bench.ts, run with tsx as the
 * bench is), so sellers, the buyer and the CIS do not share an event loop. Reads NETPAY_BENCH_CIS (the
 * CIS's URL).
 *
 * Messages from the parent, each answered by one message:
 * - `serve` {share, dataDir, price}: starts a seller (`startPeer`, redemption on demand only) → `serving`
 *   {url, peerId, files}.
 * - `get` {fileId, dataDir, out, maxPrice?}: downloads as a buyer (`getFile`), timed here around the call
 *   (registration, offer, coin purchase and every chunk), then deletes the file → `got` {ms, cpuUs, …}.
 * - `cpu`: this process's CPU time so far → `cpu` {us}.
 * - `redeem`: redeems what the seller accepted → `redeemed` {credited, rejected, amount}.
 * - `stop`: closes the seller and exits.
 * A failure is answered `error` {message}.
 */
import { rm } from 'node:fs/promises';
import { getFile } from '../src/get.ts';
import { type RunningPeer, startPeer } from '../src/peer.ts';

const cisUrl = process.env.NETPAY_BENCH_CIS!;
let seller: RunningPeer | undefined;

type Message =
  | { type: 'serve'; share: string; dataDir: string; price: string }
  | { type: 'get'; fileId: string; dataDir: string; out: string; maxPrice?: string }
  | { type: 'cpu' }
  | { type: 'redeem' }
  | { type: 'stop' };

const cpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

async function answer(m: Message): Promise<object> {
  switch (m.type) {
    case 'serve': {
      seller = await startPeer({
        share: m.share,
        cisUrl,
        price: BigInt(m.price),
        dataDir: m.dataDir,
        redeemEveryMs: 0,
      });
      return {
        type: 'serving',
        url: seller.url,
        peerId: seller.peerId,
        files: seller.folder.list().map((f) => ({ fileId: f.manifest.fileId, name: f.manifest.name })),
      };
    }
    case 'get': {
      const cpu0 = cpuUs();
      const t0 = performance.now();
      const got = await getFile({
        fileId: m.fileId,
        cisUrl,
        dataDir: m.dataDir,
        out: m.out,
        ...(m.maxPrice !== undefined ? { maxPrice: BigInt(m.maxPrice) } : {}),
      });
      const ms = performance.now() - t0;
      const cpu = cpuUs() - cpu0;
      await rm(m.out, { force: true });
      return {
        type: 'got',
        ms,
        cpuUs: cpu,
        size: got.size,
        spent: got.spent.toString(),
        from: got.from,
        dropped: got.dropped,
      };
    }
    case 'cpu':
      return { type: 'cpu', us: cpuUs() };
    case 'redeem': {
      if (!seller) throw new Error('not serving');
      const r = await seller.redeem();
      return { type: 'redeemed', ...r };
    }
    case 'stop':
      await seller?.close();
      process.exit(0);
  }
}

process.on('message', (m: Message) => {
  answer(m).then(
    (reply) => process.send!(reply),
    (e: unknown) => process.send!({ type: 'error', message: e instanceof Error ? e.message : String(e) }),
  );
});
process.send!({ type: 'ready' });
