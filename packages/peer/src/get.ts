/**
 * `netpay peer get`: downloads a file from the peers that offer it (the CIS's index), paying per chunk
 * from this peer's wallet (docs/p2p.md §3), buying coins at the CIS as they are needed. The wallet is
 * this process's alone while it runs (a lock file beside it), so two downloads never hand out one payword.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { link, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
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
    .map((p) => ({ peerId: p.peerId, url: p.url, price: BigInt(p.price) }))
    // Sellers asking more than the most the buyer pays are not used: nor are coins bought for them.
    .filter((p) => o.maxPrice === undefined || p.price <= o.maxPrice);
  await ensureRegistered(cis, id, o.invitation ? { invitation: o.invitation } : {});
  return withWallet(id.dataDir, async () => {
    const out = o.out !== undefined ? resolve(o.out) : defaultOut(offer.name, o.fileId);
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
        size: offer.size,
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
      // Counted in coins, as bigints until clamped to the longest chain the CIS sells.
      const share = BigInt(Math.ceil(chunks / Math.max(1, sellers.length)) + 2);
      const coins = (bought < sellers.length ? share : 16n) * (maxPrice / coinValue);
      const longest = BigInt(config.maxChainLength);
      const atLeast = coins < 16n ? 16n : coins;
      const n = atLeast > longest ? longest : atLeast;
      await wallet.buy(coinValue, Number(n));
      bought++;
      return wallet.pay(seller, amount);
    },
  };
}

/**
 * Runs `fn` holding the wallet's lock file (`wallet.lock`, the holder's pid in it); another download of
 * this peer meanwhile is refused. A lock whose process is gone (a download killed) is taken over.
 */
export async function withWallet<T>(dataDir: string, fn: () => Promise<T>): Promise<T> {
  const lock = join(dataDir, 'wallet.lock');
  await takeLock(lock);
  try {
    return await fn();
  } finally {
    // Only our own lock is removed.
    if ((await holderOf(lock)) === process.pid) await rm(lock, { force: true });
  }
}

/** Makes `lock` ours: created with our pid in it at once (a link is made whole or not at all). */
async function takeLock(lock: string) {
  const mine = `${lock}.${process.pid}-${randomUUID()}`;
  await writeFile(mine, String(process.pid), { mode: 0o600 });
  try {
    // A lock seen stale but taken over meanwhile by another download is that one's: the next try sees it.
    for (let attempt = 0; attempt < 3; attempt++) {
      if (await linked(mine, lock)) return;
      const holder = await holderOf(lock);
      if (holder === undefined) continue; // removed meanwhile
      if (holder === null || alive(holder)) throw busy(lock, holder);
      if (await breakStale(lock, holder, mine)) return;
    }
    throw busy(lock, await holderOf(lock));
  } finally {
    await rm(mine, { force: true });
  }
}

/**
 * Removes a lock left by `dead` and puts ours in its place; true when ours is in place. Only one download
 * may break it: the one that makes `wallet.lock.<dead>.break` first; it checks the lock still names
 * `dead` before removing it.
 */
async function breakStale(lock: string, dead: number, mine: string): Promise<boolean> {
  const claim = `${lock}.${dead}.break`;
  if (!(await linked(mine, claim))) return false;
  try {
    if ((await holderOf(lock)) !== dead) return false;
    await rm(lock, { force: true });
    // False when another download made a fresh lock meanwhile: the next try sees it.
    return await linked(mine, lock);
  } finally {
    await rm(claim, { force: true });
  }
}

/** Makes `to` a link to `from`; false when `to` exists. */
async function linked(from: string, to: string): Promise<boolean> {
  try {
    await link(from, to);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
}

/** The pid in a lock file: undefined when there is none, null when it holds no pid. */
async function holderOf(lock: string): Promise<number | null | undefined> {
  let text: string;
  try {
    text = await readFile(lock, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  return /^[1-9]\d{0,9}$/.test(text.trim()) ? Number(text.trim()) : null;
}

/** Whether process `pid` runs (EPERM: it does, as another user). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function busy(lock: string, holder: number | null | undefined) {
  const why =
    holder === null
      ? `${lock} is not a lock this peer wrote; remove it if no download of this peer runs`
      : holder === undefined || alive(holder)
        ? `another download of this peer is running (${holder ? `process ${holder}, ` : ''}${lock}); wait for it`
        : `${lock} was left by process ${holder}, which is gone, and ${lock}.${holder}.break says another download is taking it over; remove both if none is`;
  return new NetPayError('wallet_busy', why, { status: 409 });
}

/**
 * Where a download goes without `--out`: the offered name in the current folder. The name comes from other
 * peers (through the CIS), so it may not replace a file that is there already (`file_exists`: choose with
 * `--out`), nor name a folder or a hidden file; such a name becomes `<fileId>.download`.
 */
function defaultOut(name: string, fileId: string): string {
  const usable = name !== '.' && name !== '..' && !name.startsWith('.') && basename(name) === name;
  const path = resolve(usable ? name : `${fileId}.download`);
  if (existsSync(path))
    throw new NetPayError(
      'file_exists',
      `${path} exists already; choose where the download goes with --out`,
      {
        status: 409,
      },
    );
  return path;
}
