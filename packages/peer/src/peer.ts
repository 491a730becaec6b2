/**
 * A running peer (docs/p2p.md): as an S-peer it serves a folder's files for coins behind the NetPay gate
 * (payments checked offline against the owner each touchstone names; frozen payers refused from the list
 * of frozen peers it keeps), keeps its offer at the CIS current as the folder changes, and redeems what
 * it accepted; `netpay peer start`. Downloading (get.ts) runs in its own process with the
 * peer's wallet.
 */
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { unanswered } from '@netpay/api';
import { createServiceApp, withBackoff } from '@netpay/service';
import { netpayFastify } from '@netpay/vendor/fastify';
import { openVendor } from '@netpay/vendor/server';
import { cisClient, ensureRegistered, frozenPeersFrom, PEER_KEY_FILE, peerIdentity } from './cis.ts';
import { createSharedFolder, type SharedFile, type SharedFolder } from './files/shared-folder.ts';
import { peerRoutes } from './serve/routes.ts';
import { createTabs } from './serve/tabs.ts';
import { peerViewRoutes } from './web/routes.ts';
import { createPeerView } from './web/view.ts';

/** Chunks a seller serves a known payer ahead of payment, unless told otherwise. */
export const DEFAULT_DEBT_CHUNKS = 4;

export interface StartPeerOptions {
  /** The folder whose files this peer sells. */
  readonly share: string;
  /** The CIS (the broker). */
  readonly cisUrl: string;
  /** Price of one chunk of any shared file, minor units of the CIS's currency. */
  readonly price: bigint;
  /** Key, embedded database and wallet. Default ./.netpay/peer. */
  readonly dataDir?: string;
  readonly port?: number;
  readonly host?: string;
  /** The URL other peers reach this one at; default the listening URL. */
  readonly publicUrl?: string;
  /** The pseudonym, on first start only (default derived from the key). */
  readonly peerId?: string;
  readonly name?: string;
  /** The operator's invitation, where the CIS's registration is not open. */
  readonly invitation?: string;
  /** Redeem accepted coins this often (ms); 0: only on demand. Default 60 s. */
  readonly redeemEveryMs?: number;
  /** Chunks served to a known payer ahead of payment (docs/p2p.md §3, "Debt"). Default 4; 0: none. */
  readonly debtChunks?: number;
  /** Ask the CIS for newly frozen peers this often (ms). Default 10 s. */
  readonly frozenEveryMs?: number;
  readonly clock?: () => number;
  /** Where failures of background work (publishing the index) are reported. Default stderr. */
  readonly onError?: (e: unknown) => void;
  /** Stops waiting for the CIS at start (Ctrl-C while it is not up): the start then fails. */
  readonly signal?: AbortSignal;
}

export async function startPeer(o: StartPeerOptions) {
  const clock = o.clock ?? Date.now;
  const dataDir = resolve(o.dataDir ?? '.netpay/peer');
  const id = peerIdentity(dataDir, o.peerId);
  const cis = cisClient(o.cisUrl, id, clock);
  // The CIS may not be listening yet (services start in any order): wait for it, saying so each time.
  const config = await withBackoff(() => cis.config({}), {
    what: `the CIS at ${o.cisUrl}`,
    transient: unanswered,
    log: (message) => console.error(`netpay peer: ${message}`),
    ...(o.signal ? { signal: o.signal } : {}),
  });
  const frozen = frozenPeersFrom(cis);
  await frozen.refresh();
  const vendor = await openVendor({
    vendorId: id.peerId,
    brokerUrl: o.cisUrl,
    currency: { code: config.currency, exponent: config.exponent },
    dataDir,
    keyFile: PEER_KEY_FILE,
    frozenPeers: frozen.has,
    clock,
  });
  const onError = o.onError ?? ((e: unknown) => console.error('netpay peer:', (e as Error).message ?? e));
  // The CIS's keys known from the start: touchstones are checked offline from then on.
  await vendor.gate.loadKeys().catch(onError);
  const publisher = createPublisher(cis, onError);
  let folder: SharedFolder | undefined;
  let app: ReturnType<typeof createServiceApp>['app'] | undefined;
  let url = '';
  try {
    folder = await createSharedFolder({
      dir: o.share,
      price: o.price,
      // A failed publish is reported by the publisher (onError); the next change publishes again.
      onChange: (files) => void publisher.publish(files).catch(() => {}),
      onError,
    });
    app = serve(o, {
      id,
      dataDir,
      vendor,
      folder,
      cis,
      currency: { code: config.currency, exponent: config.exponent },
      url: () => url,
    });
    await app.listen({ port: o.port ?? 0, host: o.host ?? '127.0.0.1' });
    const listening = `http://${o.host ?? '127.0.0.1'}:${(app.server.address() as AddressInfo).port}`;
    url = o.publicUrl ?? listening;
    await ensureRegistered(cis, id, {
      url,
      force: true, // the URL may have changed
      ...(o.name ? { name: o.name } : {}),
      ...(o.invitation ? { invitation: o.invitation } : {}),
    });
    await publisher.publish(folder.list());
  } catch (e) {
    // Whatever opened is closed again: a start that fails (port taken, CIS refusing) leaves nothing running.
    await app?.close().catch(() => {});
    await folder?.close().catch(() => {});
    await vendor.store.close().catch(() => {});
    await vendor.db.close().catch(() => {});
    throw e;
  }
  const every = o.redeemEveryMs ?? 60_000;
  const stopRedeemer = every > 0 ? vendor.redeemer.start(every) : () => {};
  const stopFrozen = frozen.start(o.frozenEveryMs ?? 10_000, onError);
  return {
    peerId: id.peerId,
    url,
    app,
    folder,
    vendor,
    cis,
    /** Publishes the shared files now (they are also published on every change of the folder). */
    publish: () => publisher.publish(folder.list()),
    /** Redeems every accepted coin now. */
    redeem: () => vendor.redeemer.redeem(),
    /** Asks the CIS for newly frozen peers now (also done every `frozenEveryMs`). */
    refreshFrozen: () => frozen.refresh(),
    async close() {
      stopRedeemer();
      stopFrozen();
      await app.close();
      await folder.close();
      await publisher.idle();
      await vendor.store.close();
      await vendor.db.close();
    },
  };
}

export type RunningPeer = Awaited<ReturnType<typeof startPeer>>;

/** Publishes the shared files at the CIS, one PUT at a time, the latest list winning. */
function createPublisher(cis: ReturnType<typeof cisClient>, onError: (e: unknown) => void) {
  let latest: readonly SharedFile[] | undefined;
  let running: Promise<void> = Promise.resolve();
  const send = async (files: readonly SharedFile[]) => {
    await cis.shareFiles({
      body: {
        files: files.map((f) => ({
          fileId: f.manifest.fileId,
          name: f.manifest.name,
          size: f.manifest.size,
          chunkSize: f.manifest.chunkSize,
          price: f.price.toString(),
        })),
      },
    });
  };
  return {
    publish(files: readonly SharedFile[]): Promise<void> {
      latest = files;
      running = running.then(async () => {
        const now = latest;
        latest = undefined;
        if (now) await send(now);
      });
      const mine = running;
      running = running.catch(onError);
      return mine;
    },
    idle: () => running,
  };
}

/** The peer's HTTP app: the gate, the shared files and chunks, and its web view. */
function serve(
  o: StartPeerOptions,
  p: {
    id: { peerId: string };
    dataDir: string;
    vendor: Awaited<ReturnType<typeof openVendor>>;
    folder: SharedFolder;
    cis: ReturnType<typeof cisClient>;
    currency: { code: string; exponent: number };
    url: () => string;
  },
) {
  const { app } = createServiceApp({
    title: `NetPay peer ${p.id.peerId}`,
    description:
      'A P2P-NetPay peer: shared files, their manifests, and chunks sold for coins (docs/p2p.md §3).',
    logger: false,
    health: async () => {
      await p.vendor.db.query('SELECT 1');
    },
  });
  netpayFastify(app, p.vendor.gate);
  peerRoutes(app, p.folder, {
    tabs: createTabs(o.debtChunks ?? DEFAULT_DEBT_CHUNKS),
    payerOf: (chainId) => {
      const c = p.vendor.store.peek(chainId);
      return c?.status === 'held' ? c.startMessage?.vendorId : undefined;
    },
  });
  // The web view (this machine only); `url` is known before any request can be answered.
  peerViewRoutes(
    app,
    createPeerView({
      peerId: p.id.peerId,
      url: p.url,
      dataDir: p.dataDir,
      folder: p.folder,
      store: p.vendor.store,
      cis: p.cis,
      currency: p.currency,
    }),
  );
  return app;
}
