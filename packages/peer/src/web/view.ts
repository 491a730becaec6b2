/**
 * What the peer's web view shows (`GET /netpay/peer.json`, docs/p2p.md §6): the peer, its shared
 * files, what it sold (its vendor store's statement), its figures at the CIS (`GET /p2p/me`) and the
 * downloads of its data folder (their progress files, written by `netpay peer get`). Every amount goes out
 * as minor units and as text formatted with the CIS's currency (protocol's formatMoney), so the page
 * computes no money.
 */
import {
  type Currency,
  FileIdSchema,
  FileNameSchema,
  FileSizeSchema,
  formatMoney,
  MinorWireSchema,
  money,
} from '@netpay/protocol';
import { z } from 'zod';
import type { CisClient } from '../cis.ts';
import type { SharedFolder } from '../files/shared-folder.ts';
import { DownloadProgressSchema, readDownloads } from '../get/progress-file.ts';

/** Most shared files listed (by name); `fileCount` says how many there are. */
export const MAX_FILES_SHOWN = 1000;
/** The CIS is asked again when its answer is older than this (real time), at most once at a time. */
const CIS_MAX_AGE_MS = 1000;

/** An amount: minor units, and as people read it ("0.0060 USD"). */
export const ShownAmountSchema = z.strictObject({ minor: MinorWireSchema, text: z.string() });

export const PeerViewSchema = z.strictObject({
  peerId: z.string(),
  url: z.string(),
  currency: z.strictObject({ code: z.string(), exponent: z.number().int() }),
  fileCount: z.number().int().min(0),
  files: z
    .array(
      z.strictObject({
        fileId: FileIdSchema,
        name: FileNameSchema,
        size: FileSizeSchema,
        chunks: z.number().int().min(1),
        price: ShownAmountSchema.describe('per chunk'),
      }),
    )
    .max(MAX_FILES_SHOWN),
  /** What this peer accepted from buyers and what the CIS credited (its vendor store's statement). */
  sales: z.strictObject({
    accepted: ShownAmountSchema,
    redeemed: ShownAmountSchema,
    awaitingRedemption: ShownAmountSchema,
    missing: ShownAmountSchema,
    chains: z.number().int().min(0),
  }),
  /** The peer's figures at the CIS (docs/p2p.md §4); null when the CIS did not answer (`cisError` says why). */
  cis: z
    .strictObject({
      balance: ShownAmountSchema,
      earnings: ShownAmountSchema,
      supply: ShownAmountSchema,
      demand: ShownAmountSchema,
      ratio: z.string().nullable(),
      allowance: ShownAmountSchema,
      remaining: ShownAmountSchema,
      frozen: z.boolean(),
    })
    .nullable(),
  cisError: z.string().nullable(),
  downloads: z.array(
    DownloadProgressSchema.omit({ spent: true, state: true }).extend({
      spent: ShownAmountSchema,
      state: z.enum(['running', 'done', 'failed', 'stopped']),
    }),
  ),
});
export type PeerView = z.infer<typeof PeerViewSchema>;

export interface PeerViewDeps {
  readonly peerId: string;
  /** The URL the peer registered at the CIS (known once it listens). */
  readonly url: () => string;
  /** The peer's data folder (where `netpay peer get` writes its progress files). */
  readonly dataDir: string;
  readonly folder: Pick<SharedFolder, 'list'>;
  readonly store: {
    statement(): Promise<{
      accepted: string;
      redeemed: string;
      awaitingRedemption: string;
      missing: string;
      chains: number;
    }>;
  };
  readonly cis: Pick<CisClient, 'peerStatus'>;
  readonly currency: Currency;
}

export function createPeerView(d: PeerViewDeps) {
  const shown = (minor: bigint | string) => {
    const m = money(BigInt(minor), d.currency);
    return { minor: m.minor.toString(), text: formatMoney(m) };
  };
  const cis = cisStatus(d.cis);
  return {
    async read(): Promise<PeerView> {
      const [statement, status, downloads] = await Promise.all([
        d.store.statement(),
        cis.latest(),
        readDownloads(d.dataDir),
      ]);
      const files = d.folder.list();
      return {
        peerId: d.peerId,
        url: d.url(),
        currency: { code: d.currency.code, exponent: d.currency.exponent },
        fileCount: files.length,
        files: files
          .map((f) => ({
            fileId: f.manifest.fileId,
            name: f.manifest.name,
            size: f.manifest.size,
            chunks: f.manifest.leaves.length,
            price: shown(f.price),
          }))
          .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
          .slice(0, MAX_FILES_SHOWN),
        sales: {
          accepted: shown(statement.accepted),
          redeemed: shown(statement.redeemed),
          awaitingRedemption: shown(statement.awaitingRedemption),
          missing: shown(statement.missing),
          chains: statement.chains,
        },
        cis: status.ok
          ? {
              balance: shown(status.value.balance),
              earnings: shown(status.value.earnings),
              supply: shown(status.value.supply),
              demand: shown(status.value.demand),
              ratio: status.value.ratio,
              allowance: shown(status.value.allowance),
              remaining: shown(status.value.remaining),
              frozen: status.value.frozen,
            }
          : null,
        cisError: status.ok ? null : status.error,
        downloads: downloads.map((x) => ({ ...x, spent: shown(x.spent) })),
      };
    },
  };
}

type Status = Awaited<ReturnType<CisClient['peerStatus']>>;
type Answer = { ok: true; value: Status } | { ok: false; error: string };

/**
 * The peer's figures at the CIS, asked again when older than CIS_MAX_AGE_MS (real time, not the protocol
 * clock) and never twice at once: the first call waits for the answer, later ones get the latest while a
 * newer one is on its way. So a page polling every second costs the CIS one signed request a second.
 */
function cisStatus(cis: Pick<CisClient, 'peerStatus'>) {
  let latest: Answer | undefined;
  let askedAt = Number.NEGATIVE_INFINITY;
  let asking: Promise<Answer> | undefined;
  const ask = () => {
    askedAt = performance.now();
    asking = cis
      .peerStatus({})
      .then((value): Answer => ({ ok: true, value }))
      .catch((e: unknown): Answer => ({ ok: false, error: e instanceof Error ? e.message : String(e) }))
      .then((a) => {
        latest = a;
        asking = undefined;
        return a;
      });
    return asking;
  };
  return {
    async latest(): Promise<Answer> {
      if (asking) return latest ?? asking;
      if (performance.now() - askedAt < CIS_MAX_AGE_MS && latest) return latest;
      const next = ask();
      return latest ?? next;
    },
  };
}
