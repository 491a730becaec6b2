/**
 * A small seeded PRNG (sfc32, seeded through splitmix32) for the model test: the same seed replays the
 * same operations, faults, clock and broker randomness. Not for cryptography.
 */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const split = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = split();
    this.b = split();
    this.c = split();
    this.d = split();
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** An independent stream derived from this one (for the bank's faults, the broker's randomness, …). */
  fork(): Rng {
    return new Rng(this.u32());
  }

  u32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.u32() / 2 ** 32;
  }

  /** Uniform integer in [lo, hi], both included. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.float() * (hi - lo + 1));
  }

  /**
   * Uniform bigint in [lo, hi], both included, for amounts of money. Spans up to 2^32 take one draw (the
   * same as `int`, so seeds replay unchanged); wider ones combine 32-bit draws.
   */
  bigint(lo: bigint, hi: bigint): bigint {
    const span = hi - lo + 1n;
    if (span <= 0n) throw new Error('empty range');
    if (span <= 2n ** 32n) return lo + (BigInt(this.u32()) * span) / 2n ** 32n;
    let r = 0n;
    for (let bits = 0n; bits < 96n; bits += 32n) r = (r << 32n) | BigInt(this.u32());
    return lo + (r % span);
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.int(0, items.length - 1)]!;
  }

  /** Picks a key with probability proportional to its weight (weights ≤ 0 are never picked). */
  weighted<K extends string>(weights: Readonly<Record<K, number>>): K {
    const entries = (Object.entries(weights) as [K, number][]).filter(([, w]) => w > 0);
    const total = entries.reduce((s, [, w]) => s + w, 0);
    let r = this.float() * total;
    for (const [k, w] of entries) {
      r -= w;
      if (r < 0) return k;
    }
    return entries.at(-1)![0];
  }

  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i += 4) {
      const v = this.u32();
      for (let k = 0; k < 4 && i + k < length; k++) out[i + k] = (v >>> (8 * k)) & 0xff;
    }
    return out;
  }
}
