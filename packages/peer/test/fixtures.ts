/**
 * What the P2P tests share (packages/peer/test, packages/cli/src/peer-processes.test.ts): files of known
 * bytes, a payer's own P2P chain and payments from it (for a cheat or a slow payer the test plays itself),
 * and a lying seller as a proxy in front of a real one.
 */
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type Ed25519Signer,
  fromBase64url,
  type Payment,
  signMessage,
  type Touchstone,
  toBase64url,
} from '@netpay/protocol';
import { clientChain } from '../../broker/test/world.ts';

export const CHUNK = 262_144;
export const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** `chunks` full chunks and `tail` bytes more, from a seed. */
export function fileBytes(chunks: number, seed: number, tail = 1000) {
  const bytes = Buffer.alloc(chunks * CHUNK + tail);
  let x = seed;
  for (let i = 0; i < bytes.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    bytes[i] = x >>> 24;
  }
  return bytes;
}

/**
 * A chain of `n` coins of 10 bought by a peer through `buy` (its CIS client's peerBuy), with every payword,
 * and P2P payments from it signed by that peer: coins (from, to] to `seller`, proving the chain from `from`.
 */
export async function ownChain(
  n: number,
  payer: { peerId: string; signer: Ed25519Signer },
  buy: (body: { chains: { coinValue: string; n: number; chainId: string; root: string }[] }) => Promise<{
    chains: { touchstone: Touchstone }[];
  }>,
  nowSeconds: () => number,
) {
  const chain = clientChain(n);
  const bought = await buy({ chains: [{ coinValue: '10', n, chainId: chain.chainId, root: chain.root }] });
  const touchstone = bought.chains[0]!.touchstone;
  const words = [fromBase64url(chain.root)!];
  for (let i = 1; i <= n; i++) words.push(chain.traversal.next()!.payword);
  const at = (i: number) => ({ index: i, payword: toBase64url(words[i]!) });
  const pay = (seller: string, from: number, to: number): Payment => ({
    v: 1,
    parts: [
      {
        chainId: chain.chainId,
        ...at(to),
        touchstone,
        lastIndex: peerIndex(payer, chain.chainId, at(from), seller, nowSeconds()),
        paidIndex: peerIndex(payer, chain.chainId, at(to), seller, nowSeconds()),
      },
    ],
  });
  return { chainId: chain.chainId, touchstone, pay };
}

/** A peer's signed index on a chain at `at`, handed to `seller`: a part's lastIndex or paidIndex. */
export const peerIndex = (
  payer: { peerId: string; signer: Ed25519Signer },
  chainId: string,
  at: { index: number; payword: string },
  seller: string,
  issuedAt: number,
) =>
  signMessage(
    'index',
    { v: 1, chainId, ...at, vendorId: payer.peerId, handedTo: seller, issuedAt },
    payer.signer,
  );

/** A proxy in front of a seller that flips the first byte of every chunk it passes on. */
export const corrupting = (target: string) => proxyTo(target, { corruptChunks: true });

/** An HTTP proxy in front of `target` (a seller, or the CIS), until closed; `down` cuts every request off. */
export async function proxyTo(target: string, o: { corruptChunks?: boolean } = {}) {
  let down = false;
  const server = createServer(async (req, res) => {
    if (down) return void req.socket.destroy();
    const sent: Buffer[] = [];
    for await (const piece of req) sent.push(piece as Buffer);
    const r = await fetch(target + req.url, {
      method: req.method ?? 'GET',
      headers: req.headers as Record<string, string>,
      ...(sent.length > 0 ? { body: Buffer.concat(sent) } : {}),
    });
    const body = Buffer.from(await r.arrayBuffer());
    if (o.corruptChunks && r.status === 200 && req.url?.includes('/chunks/')) body[0] = body[0]! ^ 0xff;
    const headers: Record<string, string> = {};
    r.headers.forEach((v, k) => {
      if (k !== 'content-length' && k !== 'transfer-encoding' && k !== 'connection') headers[k] = v;
    });
    res.writeHead(r.status, headers).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    set down(d: boolean) {
      down = d;
      if (d) server.closeAllConnections();
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
