import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromBase64url, toBase64url, toHex } from './bytes.ts';
import {
  CHUNK_SIZE,
  checkManifest,
  chunkCount,
  chunkLength,
  chunkMatches,
  fileId,
  leafHash,
  leavesOf,
  ManifestSchema,
  merkleRoot,
} from './merkle.ts';
import { InvariantError } from './result.ts';

/** docs/p2p.md §1 written out again with node:crypto, level by level, to check the code against. */
function sha(...parts: Uint8Array[]): Buffer {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}
const tag = (t: string) => Buffer.from(`NetPay/v1/${t}\0`, 'ascii');

function referenceFileId(bytes: Uint8Array, chunkSize: number): string {
  let level: Buffer[] = [];
  for (let at = 0; at < bytes.length || level.length === 0; at += chunkSize) {
    level.push(sha(tag('chunk'), bytes.subarray(at, at + chunkSize)));
  }
  while (level.length > 1) {
    const up: Buffer[] = [];
    for (let i = 0; i < level.length; i += 2) {
      up.push(i + 1 < level.length ? sha(tag('node'), level[i]!, level[i + 1]!) : level[i]!);
    }
    level = up;
  }
  const sizes = Buffer.alloc(12);
  sizes.writeBigUInt64BE(BigInt(bytes.length), 0);
  sizes.writeUInt32BE(chunkSize, 8);
  return sha(tag('file'), sizes, level[0]!).toString('base64url');
}

const seq = (n: number, mod = 256) => Uint8Array.from({ length: n }, (_, i) => i % mod);
const idOf = (bytes: Uint8Array, chunkSize = CHUNK_SIZE) =>
  fileId(bytes.length, chunkSize, leavesOf(bytes, chunkSize));

function manifestOf(bytes: Uint8Array, name = 'song.mp3') {
  const leaves = leavesOf(bytes);
  return {
    fileId: fileId(bytes.length, CHUNK_SIZE, leaves),
    name,
    size: bytes.length,
    chunkSize: CHUNK_SIZE,
    leaves: leaves.map(toBase64url),
  };
}

describe('file id vectors (pinned: a change here changes every file id on the network)', () => {
  const vectors: [string, Uint8Array, number, string][] = [
    ['empty file', new Uint8Array(0), CHUNK_SIZE, 'zFuF5i6O-DBDOMvBxWWIODh0xBOHcWEed_8GYMgmjWg'],
    ['"abc"', new TextEncoder().encode('abc'), CHUNK_SIZE, 'tSGbJ4Lz8Q1XUS6zjQQi0cMZX9xmN1RVJfyPFJP10fg'],
    ['10 bytes in 4-byte chunks (3 leaves)', seq(10), 4, 'P-cJjI9MHRSKbL2TftbT-FbI8PcqY33PdT7axnh_X3U'],
    ['16 bytes in 4-byte chunks (4 leaves)', seq(16), 4, '48RBpB5bl1Jf7s026AWCnBQ6K25Q6fMj6ZLbXpaeofM'],
    ['20 bytes in 4-byte chunks (5 leaves)', seq(20), 4, 'Ut52xBYdamiPM3GRzYGxqsT7XnV96v99jy-weDklTGQ'],
    [
      '3 chunks and 1000 bytes',
      seq(3 * CHUNK_SIZE + 1000, 251),
      CHUNK_SIZE,
      'IJfkIpJhfoy1lVrKwYCcmfn-327ccNOIIZ-t39-RAYc',
    ],
  ];
  for (const [what, bytes, chunkSize, expected] of vectors) {
    it(what, () => {
      expect(idOf(bytes, chunkSize)).toBe(expected);
      expect(referenceFileId(bytes, chunkSize)).toBe(expected);
      expect(expected).toHaveLength(43);
    });
  }

  it('the empty chunk', () => {
    expect(toHex(leafHash(new Uint8Array(0)))).toBe(
      '5a8ec7236a3ede5af3fadca01e6eebcb1e2db6d7c961429499f51c1d8723e35f',
    );
  });
});

describe('tree', () => {
  it('the root of one leaf is the leaf; two leaves make one node', () => {
    const a = leafHash(Uint8Array.of(1));
    const b = leafHash(Uint8Array.of(2));
    expect(toHex(merkleRoot([a]))).toBe(toHex(a));
    expect(Buffer.from(merkleRoot([a, b]))).toEqual(sha(tag('node'), a, b));
    expect(Buffer.from(merkleRoot([b, a]))).not.toEqual(sha(tag('node'), a, b));
  });

  it('carries an odd last node up unchanged, at every level', () => {
    const l = [1, 2, 3, 4, 5].map((i) => leafHash(Uint8Array.of(i)));
    const n = (x: Uint8Array, y: Uint8Array) => sha(tag('node'), x, y);
    expect(Buffer.from(merkleRoot(l.slice(0, 3)))).toEqual(n(n(l[0]!, l[1]!), l[2]!));
    expect(Buffer.from(merkleRoot(l))).toEqual(n(n(n(l[0]!, l[1]!), n(l[2]!, l[3]!)), l[4]!));
  });

  it('agrees with the reference for 1 to 40 leaves', () => {
    for (let chunks = 1; chunks <= 40; chunks++) {
      const bytes = seq(chunks * 3 - (chunks % 3));
      expect(idOf(bytes, 3)).toBe(referenceFileId(bytes, 3));
    }
  });

  it('refuses no leaves, leaves of the wrong length and a leaf count that does not fit the size', () => {
    expect(() => merkleRoot([])).toThrow(InvariantError);
    expect(() => merkleRoot([new Uint8Array(31)])).toThrow(InvariantError);
    expect(() => fileId(10, 4, leavesOf(seq(16), 4))).toThrow(InvariantError);
    expect(() => fileId(-1, 4, [])).toThrow(InvariantError);
    expect(() => fileId(4, 0, [])).toThrow(InvariantError);
  });
});

describe('chunks', () => {
  it('counts chunks, with one for an empty file', () => {
    expect(chunkCount(0, CHUNK_SIZE)).toBe(1);
    expect(chunkCount(1, CHUNK_SIZE)).toBe(1);
    expect(chunkCount(CHUNK_SIZE, CHUNK_SIZE)).toBe(1);
    expect(chunkCount(CHUNK_SIZE + 1, CHUNK_SIZE)).toBe(2);
    expect(chunkCount(Number.MAX_SAFE_INTEGER, CHUNK_SIZE)).toBe(2 ** 35);
    expect(chunkCount(Number.MAX_SAFE_INTEGER - 1, 3)).toBe(3002399751580330);
    expect(chunkCount(Number.MAX_SAFE_INTEGER - 3, 3)).toBe(3002399751580330);
    expect(chunkCount(Number.MAX_SAFE_INTEGER - 4, 3)).toBe(3002399751580329);
    expect(() => chunkCount(2 ** 53, CHUNK_SIZE)).toThrow(InvariantError);
    expect(() => chunkCount(1.5, CHUNK_SIZE)).toThrow(InvariantError);
  });

  it('gives each chunk its length, the last one shorter', () => {
    expect(chunkLength(0, CHUNK_SIZE, 0)).toBe(0);
    expect(chunkLength(10, 4, 0)).toBe(4);
    expect(chunkLength(10, 4, 2)).toBe(2);
    expect(chunkLength(12, 4, 2)).toBe(4);
    expect(() => chunkLength(12, 4, 3)).toThrow(InvariantError);
    expect(() => chunkLength(12, 4, -1)).toThrow(InvariantError);
  });

  it('checks a chunk against its leaf', () => {
    const leaves = leavesOf(seq(10), 4);
    expect(chunkMatches(seq(10).subarray(4, 8), leaves[1]!)).toBe(true);
    expect(chunkMatches(seq(10).subarray(0, 4), leaves[1]!)).toBe(false);
  });
});

describe('the file id binds every byte, the size and the chunk size', () => {
  it('a changed byte, a byte more or less, another chunk size: another id', () => {
    const bytes = seq(3 * CHUNK_SIZE + 1000, 251);
    const id = idOf(bytes);
    const changed = Uint8Array.from(bytes);
    changed[2 * CHUNK_SIZE + 17]! ^= 0x01;
    expect(idOf(changed)).not.toBe(id);
    expect(idOf(bytes.subarray(0, bytes.length - 1))).not.toBe(id);
    expect(idOf(seq(10), 4)).not.toBe(idOf(seq(10), 5));
    // Trailing zeros: the same chunks but one longer file.
    expect(idOf(new Uint8Array(4), 4)).not.toBe(idOf(new Uint8Array(3), 4));
  });

  it('any single-byte change in any chunk changes the id (property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 200 }),
        fc.integer({ min: 1, max: 16 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (bytes, chunkSize, at, flip) => {
          const changed = Uint8Array.from(bytes);
          changed[at % bytes.length]! ^= flip;
          expect(idOf(changed, chunkSize)).not.toBe(idOf(bytes, chunkSize));
          expect(idOf(bytes, chunkSize)).toBe(referenceFileId(bytes, chunkSize));
        },
      ),
    );
  });
});

describe('manifest', () => {
  it('accepts a manifest whose leaves hash to its file id, and decodes the leaves', () => {
    const bytes = seq(2 * CHUNK_SIZE + 5);
    const checked = checkManifest(manifestOf(bytes));
    expect(checked.ok).toBe(true);
    if (!checked.ok) return;
    expect(checked.value.leaves.map(toHex)).toEqual(leavesOf(bytes).map(toHex));
    expect(checked.value.manifest.name).toBe('song.mp3');
    expect(checkManifest(manifestOf(new Uint8Array(0)))).toMatchObject({ ok: true });
  });

  it('refuses a leaf, size or file id that does not match: file_id_mismatch', () => {
    const good = manifestOf(seq(2 * CHUNK_SIZE + 5));
    const leaf = fromBase64url(good.leaves[1]!)!;
    leaf[0]! ^= 1;
    const badLeaf = { ...good, leaves: [good.leaves[0]!, toBase64url(leaf), good.leaves[2]!] };
    const otherId = { ...good, fileId: manifestOf(seq(7)).fileId };
    const otherSize = { ...good, size: good.size + 1 };
    for (const m of [badLeaf, otherId, otherSize]) {
      expect(checkManifest(m)).toMatchObject({ ok: false, error: { code: 'file_id_mismatch' } });
    }
  });

  it('refuses malformed manifests without throwing', () => {
    const good = manifestOf(seq(2 * CHUNK_SIZE + 5));
    const bad: unknown[] = [
      null,
      'x',
      {},
      { ...good, extra: 1 },
      { ...good, name: '' },
      { ...good, name: 'a/b' },
      { ...good, name: 'n'.repeat(256) },
      { ...good, size: -1 },
      { ...good, size: 1.5 },
      { ...good, size: 2 ** 53 },
      { ...good, size: '5' },
      { ...good, chunkSize: 4 },
      { ...good, leaves: good.leaves.slice(1) },
      { ...good, leaves: [...good.leaves, good.leaves[0]] },
      { ...good, leaves: [] },
      { ...good, leaves: [good.leaves[0], 'AAAA', good.leaves[2]] },
      { ...good, fileId: `${good.fileId}A` },
    ];
    for (const m of bad) {
      const result = checkManifest(m);
      expect(result, JSON.stringify(m)?.slice(0, 80)).toMatchObject({
        ok: false,
        error: { code: 'malformed' },
      });
    }
    expect(ManifestSchema.safeParse({ ...good, name: 'n'.repeat(255) }).success).toBe(true);
  });
});
