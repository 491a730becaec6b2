/**
 * `netpay peer get`: downloads a file from the peers that offer it (the CIS's index), paying per chunk
 * from this peer's wallet (docs/p2p.md §3), buying coins at the CIS as they are needed. The wallet is
 * this process's alone while it runs (a lock file beside it), so two downloads never hand out one payword.
 */
import { open, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { NetPayError } from '@netpay/protocol';
import { cisClient, ensureRegistered, peerIdentity } from './cis.ts';
import { type DownloadResult, download, type Progress } from './get/download.ts';
import { createProgressFile } from './get/progress-file.ts';
import { openPeerWallet, type PeerWallet } from './wallet/peer-wallet.ts';

export interface GetOptions {
  readonly fileId: string;
  readonly cisUrl: string;
  readonly dataDir?: string;
  /** Where to write the file; default the offered name in the current folder. */
  readonly out?: string;
  /** Most to pay per chunk, minor units. */
  readonly maxPrice?: bigint;
  readonly onProgress?: (p: Progress & { name: string }) => void;
  readonly onDrop?: (peerId: string, why: string) => void;
  readonly invitation?: string;
  readonly clock?: () => number;
}

export async function getFile(o: GetOptions): Promise<DownloadResult & { name: string }> {
  const clock = o.clock ?? Date.now;
  const id = peerIdentity(resolve(o.dataDir ?? '.netpay/peer'));
  const cis = cisClient(o.cisUrl, id, clock);
  const offer = await cis.fileOffer({ params: { fileId: o.fileId } });
  const sellers = offer.peers
    .filter((p) => p.peerId !== id.peerId)
    .map((p) => ({ peerId: p.peerId, url: p.url, price: BigInt(p.price) }));
  await ensureRegistered(cis, id, o.invitation ? { invitation: o.invitation } : {});
  return withWallet(id.dataDir, async () => {
    const out = resolve(o.out ?? offer.name);
    // The running peer's web view shows this download from its progress file (web/view.ts).
    const progress = await createProgressFile({
      dataDir: id.dataDir,
      fileId: o.fileId,
      name: offer.name,
      path: out,
      clock,
    });
    const wallet = await openPeerWallet({
      path: join(id.dataDir, 'wallet.json'),
      peerId: id.peerId,
      signer: id.signer,
      buy: (body, key) => cis.peerBuy({ body, key }),
      clock,
    });
    const config = await cis.config({});
    const buyer = coinBuyer(wallet, config, offer.chunks, sellers);
    try {
      const result = await download({
        fileId: o.fileId,
        sellers,
        out,
        wallet: { pay: buyer.pay, accepted: wallet.accepted },
        ...(o.maxPrice !== undefined ? { maxPrice: o.maxPrice } : {}),
        onProgress: (p: Progress) => {
          progress.update(p);
          o.onProgress?.({ ...p, name: offer.name });
        },
        ...(o.onDrop ? { onDrop: o.onDrop } : {}),
      });
      await progress.finish('done');
      return { ...result, name: offer.name };
    } catch (e) {
      await progress.finish('failed', e);
      throw e;
    } finally {
      await wallet.close();
    }
  });
}

/**
 * Pays from the wallet, buying a chain when its coins cannot make a chunk's price: coins of the largest
 * denomination that divides every seller's price, one chain per seller where it can (a seller's payments
 * then stay on one chain: one claim, one fee), enough for the chunks still to fetch.
 */
function coinBuyer(
  wallet: PeerWallet,
  config: { denominations: string[]; maxChainLength: number },
  chunks: number,
  sellers: readonly { price: bigint }[],
) {
  const prices = sellers.map((s) => s.price).sort((a, b) => (a > b ? -1 : a < b ? 1 : 0));
  const coinValue =
    config.denominations
      .map(BigInt)
      .sort((a, b) => (a > b ? -1 : 1))
      .find((d) => prices.every((p) => p % d === 0n)) ?? 1n;
  const maxPrice = prices[0] ?? 0n;
  let bought = 0;
  return {
    async pay(seller: string, amount: bigint) {
      try {
        return await wallet.pay(seller, amount);
      } catch (e) {
        if (!(e instanceof NetPayError && e.code === 'insufficient_coins')) throw e;
      }
      // Enough for this seller's share of the file (the first few buys), then top-ups as needed.
      const share = Math.ceil(chunks / Math.max(1, sellers.length)) + 2;
      const perChunk = Number(maxPrice / coinValue);
      const n = Math.min(
        config.maxChainLength,
        Math.max(16, (bought < sellers.length ? share : 16) * perChunk),
      );
      await wallet.buy(coinValue, n);
      bought++;
      return wallet.pay(seller, amount);
    },
  };
}

/** Runs `fn` holding the wallet's lock file; another download of this peer meanwhile is refused. */
async function withWallet<T>(dataDir: string, fn: () => Promise<T>): Promise<T> {
  const lock = join(dataDir, 'wallet.lock');
  const handle = await open(lock, 'wx').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'EEXIST')
      throw new NetPayError(
        'wallet_busy',
        `another download of this peer is running (${lock}); wait for it, or remove the file if none is`,
        { status: 409 },
      );
    throw e;
  });
  try {
    await handle.write(String(process.pid));
    return await fn();
  } finally {
    await handle.close();
    await rm(lock, { force: true });
  }
}
