/**
 * Protocol micro-benchmarks, run by `npm run bench` (bench/run.ts). Each figure is measured in this process,
 * single-threaded, beside a physical reference (OpenSSL's SHA-256 rate on the same machine).
 */
import { execFileSync } from 'node:child_process';
import * as nodeCrypto from 'node:crypto';
import {
  type ChainState,
  ChainTraversal,
  chainStepper,
  createSigner,
  generateChain,
  type PaymentPart,
  randomBytes,
  signMessage,
  type Touchstone,
  toBase64url,
  verifyMessageSignature,
  verifyPayment,
} from '../src/index.ts';

function rate(count: number, ms: number): number {
  return Math.round((count / ms) * 1000);
}

function time(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

function opensslSha256At64Bytes(): number | null {
  try {
    const out = execFileSync('openssl', ['speed', '-bytes', '64', '-seconds', '2', 'sha256'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const line = out.split('\n').find((l) => /^sha256\s/.test(l));
    const kBytes = line ? Number.parseFloat(line.trim().split(/\s+/)[1]!.replace(/k$/, '')) : Number.NaN;
    return Number.isFinite(kBytes) ? Math.round((kBytes * 1000) / 64) : null;
  } catch {
    return null;
  }
}

function chainStepRate() {
  const step = chainStepper(randomBytes(16));
  let w = randomBytes(32);
  const count = 1_000_000;
  for (let i = 0; i < 100_000; i++) w = step(i, w);
  const ms = time(() => {
    for (let i = 0; i < count; i++) w = step(i, w);
  });
  const walkMs = time(() => {
    w = step.walk(count, w, count);
  });
  const input = Buffer.alloc(67, 1);
  const raw = time(() => {
    for (let i = 0; i < count; i++) nodeCrypto.hash('sha256', input, 'buffer');
  });
  return {
    chainStepHashesPerSec: rate(count, ms),
    chainWalkHashesPerSec: rate(count, walkMs),
    nodeSha256Raw67BytesToBufferPerSec: rate(count, raw),
  };
}

function touchstoneFor(words: Uint8Array[], id: Uint8Array, n: number): Touchstone {
  return signMessage(
    'touchstone',
    {
      v: 1,
      chainId: toBase64url(id),
      root: toBase64url(words[0]!),
      n,
      coinValue: '1',
      currency: 'USD',
      exponent: 5,
      brokerId: 'bench',
      keyId: 'k1',
      issuedAt: 1,
      expiresAt: 4_000_000_000,
    },
    createSigner(new Uint8Array(32).fill(1)),
  );
}

function paymentVerification() {
  const n = 1 << 17;
  const id = randomBytes(16);
  const words = generateChain(randomBytes(32), id, n);
  const t = touchstoneFor(words, id, n);
  const chainId = t.chainId;
  const parts: PaymentPart[] = words.map((w, index) => ({ chainId, index, payword: toBase64url(w) }));
  const step = chainStepper(id);
  const now = 2;
  const run = (count: number) => {
    let state: ChainState | undefined;
    for (let i = 1; i <= count; i++) {
      const r = verifyPayment(state, parts[i]!, t, now, { step });
      if (!r.ok) throw new Error(r.error.message);
      state = r.value.state;
    }
  };
  run(n); // warm-up: let the JIT settle
  const rates = [0, 1, 2]
    .map(() =>
      rate(
        n,
        time(() => run(n)),
      ),
    )
    .sort((a, b) => a - b);
  return { singleCoinVerificationsPerSec: rates[1]!, passes: rates, goalPerSec: 500_000 };
}

function traversal() {
  const n = 1 << 20;
  const seed = randomBytes(32);
  const id = randomBytes(16);
  let tr!: ChainTraversal;
  const setupMs = time(() => {
    tr = ChainTraversal.create(seed, id, n).traversal;
  });
  const ms = time(() => {
    while (tr.next());
  });
  // A second pass reads the storage and work counters after every payword.
  const { traversal: counted } = ChainTraversal.create(seed, id, n);
  let peakStored = counted.stats().stored;
  let maxHashes = 0;
  let totalHashes = 0;
  while (counted.next()) {
    const s = counted.stats();
    peakStored = Math.max(peakStored, s.stored);
    maxHashes = Math.max(maxHashes, s.lastHashes);
    totalHashes += s.lastHashes;
  }
  return {
    n,
    setupMs: Math.round(setupMs),
    microsPerPayword: Number(((ms * 1000) / n).toFixed(3)),
    peakStoredHashes: peakStored,
    maxHashesPerPayword: maxHashes,
    meanHashesPerPayword: Number((totalHashes / n).toFixed(3)),
    goal: { microsPerPayword: 10, storedHashes: 21, hashesPerPayword: 10 },
  };
}

function signatures() {
  const id = randomBytes(16);
  const words = generateChain(randomBytes(32), id, 4);
  const signer = createSigner(new Uint8Array(32).fill(1));
  const body = touchstoneFor(words, id, 4);
  const count = 5_000;
  let t = body;
  for (let i = 0; i < 500; i++) t = signMessage('touchstone', { ...body, issuedAt: i + 1 }, signer);
  const signMs = time(() => {
    for (let i = 0; i < count; i++) t = signMessage('touchstone', { ...body, issuedAt: i + 1 }, signer);
  });
  const verifyMs = time(() => {
    for (let i = 0; i < count; i++) {
      if (!verifyMessageSignature('touchstone', t, signer.publicKey)) throw new Error('verify failed');
    }
  });
  return { touchstoneSignPerSec: rate(count, signMs), touchstoneVerifyPerSec: rate(count, verifyMs) };
}

export function runProtocolBench() {
  const opensslSha256Per64BytePerSec = opensslSha256At64Bytes();
  const steps = chainStepRate();
  return {
    chain: {
      ...steps,
      opensslSha256Per64BytePerSec,
      ratioToOpenssl: opensslSha256Per64BytePerSec
        ? Number((steps.chainWalkHashesPerSec / opensslSha256Per64BytePerSec).toFixed(3))
        : null,
    },
    payment: paymentVerification(),
    traversal: traversal(),
    signatures: signatures(),
  };
}
