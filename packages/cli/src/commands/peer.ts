/**
 * `netpay peer …` (docs/p2p.md): share a folder for coins, search the CIS, download paying per chunk,
 * and see this peer's fairness figures. A peer keeps its key, database and wallet in its data folder
 * (default ./.netpay/peer); `start` serves, and `get` runs beside it with the same data folder.
 */
import type { Command } from 'commander';
import { z } from 'zod';
import { serveUntilStopped } from '../lifecycle.ts';
import { DirSchema, HostSchema, PortSchema, UrlSchema, zodArg } from '../options.ts';

export const DEFAULT_PEER_PORT = 4500;
/** A chunk's price unless `--price` says otherwise, minor units (a bigint default would break --help). */
const DEFAULT_CHUNK_PRICE = 10n;

/** An amount in minor units, as the CIS's prices are: "10". */
const MinorSchema = z
  .string()
  .regex(/^\d{1,18}$/, 'must be a whole number of minor units, e.g. 10')
  .transform(BigInt);
const FileIdArg = z
  .string()
  .regex(/^[A-Za-z0-9_-]{43}$/, 'must be a file id (43 base64url characters, from `netpay peer search`)');

interface Common {
  cis: string;
  data?: string;
  json?: boolean;
}

export function registerPeerCommands(program: Command): void {
  const peer = program
    .command('peer')
    .description('P2P-NetPay: share files for coins, find and buy files from other peers, chunk by chunk')
    .addHelpText(
      'after',
      `
Example (two terminals, a broker on :4200):
  $ netpay peer start --share ./shared --cis http://127.0.0.1:4200
  $ netpay peer search holiday --cis http://127.0.0.1:4200
  $ netpay peer get <file-id> --cis http://127.0.0.1:4200 --data ./.netpay/peer2`,
    );
  const common = (c: Command) =>
    c
      .requiredOption('--cis <url>', 'URL of the CIS (the broker)', zodArg(UrlSchema))
      .option(
        '-d, --data <dir>',
        "the peer's data folder: key, database, wallet (default ./.netpay/peer)",
        zodArg(DirSchema),
      )
      .option('--json', 'print JSON instead of text');

  common(
    peer
      .command('start')
      .description('share a folder: publish its files at the CIS and sell them per chunk until Ctrl-C')
      .requiredOption('--share <dir>', 'the folder whose files this peer sells', zodArg(DirSchema))
      .option(
        '--price <minor>',
        `price of one 256 KiB chunk, in minor units (default: ${DEFAULT_CHUNK_PRICE})`,
        zodArg(MinorSchema),
      )
      .option(
        '-p, --port <n>',
        'port to listen on; 0 picks a free one',
        zodArg(PortSchema),
        DEFAULT_PEER_PORT,
      )
      .option('-H, --host <host>', 'address to listen on', zodArg(HostSchema), '127.0.0.1')
      .option(
        '--public-url <url>',
        'URL other peers reach this one at (default: the listening URL)',
        zodArg(UrlSchema),
      )
      .option(
        '--invite <token>',
        "the operator's invitation, where the CIS's registration is not open; also NETPAY_INVITE",
      )
      .option(
        '--debt-chunks <n>',
        'chunks served to a known payer ahead of payment (the most one payer can take unpaid); 0: none',
        zodArg(
          z
            .string()
            .regex(/^\d{1,3}$/, 'must be a whole number of chunks, 0–999')
            .transform(Number),
        ),
        4,
      )
      .option(
        '--redeem-every <seconds>',
        'redeem accepted coins this often, 1–86400 (coins not redeemed before the chain expires and its grace ends are lost)',
        zodArg(
          z
            .string()
            .regex(/^\d{1,5}$/, 'must be a whole number of seconds')
            .transform(Number)
            .pipe(z.number().min(1, 'must be at least 1').max(86_400, 'must be at most 86400 (a day)')),
        ),
        60,
      ),
  ).action(start);

  common(
    peer
      .command('search')
      .description('find files at the CIS: every offer whose name contains all the terms')
      .argument('<terms...>', 'words of the file name'),
  ).action(search);

  common(
    peer
      .command('get')
      .description(
        'download a file, paying each chunk from this peer’s wallet once the one before checked out',
      )
      .argument('<file-id>', 'the file id (from `netpay peer search`)', zodArg(FileIdArg))
      // A base64url file id may start with '-': taken as the file id, not an unknown option (a mistyped
      // option fails the file id's check instead).
      .allowUnknownOption()
      .option('-o, --out <file>', 'where to write it (default: its name, here)')
      .option('--max-price <minor>', 'most to pay per chunk, in minor units', zodArg(MinorSchema))
      .option('--invite <token>', "the operator's invitation, if this peer is not registered yet"),
  ).action(get);

  common(
    peer
      .command('status')
      .description("this peer's balance, earnings, supply, demand, ratio and purchase allowance"),
  ).action(status);
}

interface StartFlags extends Common {
  share: string;
  price?: bigint;
  port: number;
  host: string;
  publicUrl?: string;
  invite?: string;
  redeemEvery: number;
  debtChunks: number;
}

async function start(flags: StartFlags): Promise<void> {
  const invitation = flags.invite ?? process.env.NETPAY_INVITE?.trim();
  await serveUntilStopped({
    context: {
      service: 'peer',
      host: flags.host,
      port: flags.port,
      data: flags.data,
      databaseUrl: undefined,
    },
    json: flags.json,
    start: async (signal) => {
      const { startPeer } = await import('@netpay/peer');
      return startPeer({
        signal,
        share: flags.share,
        cisUrl: flags.cis,
        price: flags.price ?? DEFAULT_CHUNK_PRICE,
        port: flags.port,
        host: flags.host,
        ...(flags.data !== undefined ? { dataDir: flags.data } : {}),
        ...(flags.publicUrl ? { publicUrl: flags.publicUrl } : {}),
        ...(invitation ? { invitation } : {}),
        redeemEveryMs: flags.redeemEvery * 1000,
        debtChunks: flags.debtChunks,
      });
    },
    announce: (p) => ({
      json: { url: p.url, peerId: p.peerId, files: p.folder.list().length, pid: process.pid },
      text: `NetPay peer ${p.peerId} sharing ${p.folder.list().length} files from ${flags.share} on ${p.url}\n  CIS  ${flags.cis}\nStop with Ctrl-C.\n`,
    }),
  });
}

async function search(terms: string[], flags: Common): Promise<void> {
  const { cisClient } = await import('@netpay/peer');
  const found = await cisClient(flags.cis, undefined).searchFiles({ query: { q: terms.join(' ') } });
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(found)}\n`);
    return;
  }
  if (found.offers.length === 0) {
    process.stdout.write('No file matches.\n');
    return;
  }
  for (const o of found.offers) {
    const low = o.peers.map((p) => BigInt(p.price)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))[0] ?? 0n;
    process.stdout.write(
      `${o.fileId}  ${o.name}  ${mib(o.size)}  ${o.peers.length} peer${o.peers.length === 1 ? '' : 's'}  from ${low} per chunk\n` +
        o.peers.map((p) => `    ${p.peerId}  ${p.price} per chunk  ratio ${p.ratio ?? '–'}\n`).join(''),
    );
  }
}

interface GetFlags extends Common {
  out?: string;
  maxPrice?: bigint;
  invite?: string;
}

async function get(fileId: string, flags: GetFlags): Promise<void> {
  const { getFile } = await import('@netpay/peer');
  const bar = await progressBar(flags.json);
  try {
    const got = await getFile({
      fileId,
      cisUrl: flags.cis,
      ...(flags.data !== undefined ? { dataDir: flags.data } : {}),
      ...(flags.out !== undefined ? { out: flags.out } : {}),
      ...(flags.maxPrice !== undefined ? { maxPrice: flags.maxPrice } : {}),
      ...(flags.invite ? { invitation: flags.invite } : {}),
      onProgress: bar.update,
      onDrop: (peerId, why) => bar.note(`dropped ${peerId}: ${why}`),
    });
    bar.stop();
    const result = {
      path: got.path,
      size: got.size,
      spent: got.spent.toString(),
      from: got.from,
      dropped: got.dropped,
    };
    process.stdout.write(
      flags.json
        ? `${JSON.stringify(result)}\n`
        : `${got.path}: ${mib(got.size)}, paid ${got.spent} minor units (${
            Object.entries(got.from)
              .map(([p, n]) => `${n} chunks from ${p}`)
              .join(', ') || 'nothing new'
          })\n`,
    );
  } finally {
    bar.stop();
  }
}

async function status(flags: Common): Promise<void> {
  const { cisClient, peerIdentity } = await import('@netpay/peer');
  const { resolve } = await import('node:path');
  const id = peerIdentity(resolve(flags.data ?? '.netpay/peer'));
  const s = await cisClient(flags.cis, id).peerStatus({});
  process.stdout.write(
    flags.json
      ? `${JSON.stringify(s)}\n`
      : `${s.peerId}${s.frozen ? ' (FROZEN: it spent coins twice)' : ''}\n` +
          `  balance ${s.balance}, earnings ${s.earnings}\n` +
          `  supply ${s.supply} (coins others paid it), demand ${s.demand} (coins it bought), ratio ${s.ratio ?? '–'}\n` +
          `  may buy ${s.remaining} more (allowance ${s.allowance})\n`,
  );
}

const mib = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;

/** A progress bar on stderr for people (not with --json, not into a pipe). */
async function progressBar(json: boolean | undefined) {
  if (json || !process.stderr.isTTY)
    return { update: (_: unknown) => {}, note: (_: string) => {}, stop: () => {} };
  const { SingleBar, Presets } = await import('cli-progress');
  const bar = new SingleBar(
    {
      format:
        '{name} [{bar}] {percentage}% {mib}/{totalMib} MiB  {rate} MiB/s  paid {spent}  {sellers} peers',
      stream: process.stderr,
      hideCursor: true,
    },
    Presets.shades_classic,
  );
  const started = Date.now();
  let running = false;
  return {
    update(p: { bytes: number; total: number; spent: bigint; sellers: number; name: string }) {
      const fields = {
        name: p.name,
        mib: (p.bytes / 1048576).toFixed(1),
        totalMib: (p.total / 1048576).toFixed(1),
        rate: (p.bytes / 1048576 / Math.max(0.001, (Date.now() - started) / 1000)).toFixed(1),
        spent: p.spent.toString(),
        sellers: p.sellers,
      };
      if (!running) {
        bar.start(Math.max(1, p.total), p.bytes, fields);
        running = true;
      } else bar.update(p.bytes, fields);
    },
    note: (text: string) => process.stderr.write(`\n${text}\n`),
    stop() {
      if (running) bar.stop();
      running = false;
    },
  };
}
