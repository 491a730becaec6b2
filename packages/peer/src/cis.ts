/**
 * A peer's identity and its client of the CIS (docs/p2p.md §2). The identity is an Ed25519 key kept
 * owner-only in the peer's data folder (`peer-key.json`, made on first use) and the pseudonym derived from
 * it; the same key signs the peer's requests to the CIS, its claims as a seller and its indexes as a payer.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brokerApi, createClient, unanswered } from '@netpay/api';
import { keptAliveFetch } from '@netpay/api/node';
import {
  createSigner,
  type Ed25519Signer,
  fromBase64url,
  NetPayError,
  randomBytes,
  sha256,
  toBase64url,
} from '@netpay/protocol';
import { signRequest } from '@netpay/service';

/** Where the key lives in the data folder (`openVendor` reads the same file as the seller's key). */
export const PEER_KEY_FILE = 'peer-key.json';

export interface PeerIdentity {
  readonly peerId: string;
  readonly signer: Ed25519Signer;
  readonly dataDir: string;
}

/** The pseudonym of a key: `peer-` and 12 characters of its SHA-256 (docs/p2p.md §2). */
export const pseudonymOf = (publicKey: Uint8Array) => `peer-${toBase64url(sha256(publicKey)).slice(0, 12)}`;

/** The peer's key and pseudonym, made on first use; `peerId` names it on first use only. */
export function peerIdentity(dataDir: string, peerId?: string): PeerIdentity {
  const file = join(dataDir, PEER_KEY_FILE);
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true });
    const seed = randomBytes(32);
    const id = peerId ?? pseudonymOf(createSigner(seed).publicKey);
    writeFileSync(file, JSON.stringify({ seed: toBase64url(seed), peerId: id }), { mode: 0o600 });
  }
  const saved = JSON.parse(readFileSync(file, 'utf8')) as { seed: string; peerId?: string };
  const signer = createSigner(fromBase64url(saved.seed)!);
  const id = saved.peerId ?? pseudonymOf(signer.publicKey);
  if (peerId !== undefined && peerId !== id)
    throw new NetPayError('bad_request', `${dataDir} is the data folder of peer ${id}, not ${peerId}`);
  return { peerId: id, signer, dataDir };
}

/** The CIS's routes (the broker's contract), signed as this peer. */
export function cisClient(url: string, id: PeerIdentity | undefined, clock: () => number = Date.now) {
  return createClient(brokerApi, {
    url,
    name: 'the CIS',
    fetch: keptAliveFetch,
    ...(id ? { sign: (req) => signRequest(id.signer, id.peerId, req, Math.floor(clock() / 1000)) } : {}),
  });
}
export type CisClient = ReturnType<typeof cisClient>;

/**
 * The peers the CIS froze for double spending (`GET /p2p/frozen`), kept in memory for the seller's gate,
 * which refuses their coins without asking the CIS on a payment (docs/p2p.md §3). `refresh` asks for the
 * peers frozen since `FROZEN_OVERLAP_MS` before the latest one heard of: a freeze is stamped when its
 * transaction runs, not when it commits, so one stamped earlier may show up later. `start` refreshes
 * every `everyMs`, reporting failures to `onError` and trying again at the next tick.
 */
const FROZEN_OVERLAP_MS = 10n * 60_000n;

export function frozenPeersFrom(cis: CisClient) {
  const frozen = new Set<string>();
  let latest = 0n;
  let running: Promise<void> | undefined;
  const fetchAll = async () => {
    let since = latest > FROZEN_OVERLAP_MS ? latest - FROZEN_OVERLAP_MS : 0n;
    for (;;) {
      const page = await cis.frozenPeers({ query: { since: since.toString() } });
      for (const p of page.peers) frozen.add(p.peerId);
      const last = page.peers.at(-1);
      if (last && BigInt(last.frozenAt) > latest) latest = BigInt(last.frozenAt);
      if (!page.more || !last) return;
      since = BigInt(last.frozenAt);
    }
  };
  const refresh = (): Promise<void> => {
    running ??= fetchAll().finally(() => {
      running = undefined;
    });
    return running;
  };
  return {
    has: (peerId: string): boolean => frozen.has(peerId),
    refresh,
    /** Refreshes every `everyMs`; answers the function that stops it. */
    start(everyMs: number, onError: (e: unknown) => void): () => void {
      const timer = setInterval(() => void refresh().catch(onError), everyMs);
      timer.unref();
      return () => clearInterval(timer);
    },
  };
}

/**
 * Registers the peer at the CIS unless it is registered already (a download registers a peer that never
 * served; registering again without a URL would clear the serving one's).
 */
export async function ensureRegistered(
  cis: CisClient,
  id: PeerIdentity,
  o: { url?: string; name?: string; invitation?: string; force?: boolean },
) {
  if (!o.force) {
    try {
      const p = await cis.party({ params: { id: id.peerId } });
      if (p.publicKey === toBase64url(id.signer.publicKey)) return;
    } catch (e) {
      if (unanswered(e)) throw e;
    }
  }
  await cis.registerParty({
    body: {
      id: id.peerId,
      kind: 'peer',
      name: o.name ?? id.peerId,
      publicKey: toBase64url(id.signer.publicKey),
      ...(o.url ? { url: o.url } : {}),
      ...(o.invitation ? { invitation: o.invitation } : {}),
    },
  });
}
