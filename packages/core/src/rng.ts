/**
 * A small seeded random number generator (sfc32, seeded through splitmix32), so the same seed gives
 * the same run everywhere. Its whole state is four 32-bit words: `getState`/`setState` let a resumed
 * training run continue the exact same stream.
 */
export class Rng {
  private a = 0;
  private b = 0;
  private c = 0;
  private d = 0;
  private spareNormal: number | null = null;

  constructor(seed: number | string = 0) {
    let h = typeof seed === 'string' ? hashString(seed) : seed >>> 0;
    if (typeof seed === 'number' && (!Number.isFinite(seed) || !Number.isInteger(seed))) {
      throw new Error(`Rng: seed must be an integer or a string, got ${seed}`);
    }
    const next = () => {
      h = (h + 0x9e3779b9) | 0;
      let z = h;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** A uniformly distributed unsigned 32-bit integer. */
  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1) with 32 bits of resolution. */
  uniform(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform in [low, high). */
  uniformRange(low: number, high: number): number {
    return low + (high - low) * this.uniform();
  }

  /** A uniformly distributed integer in [0, n), without modulo bias. */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 4294967296) throw new Error(`Rng.int: n must be an integer in [1, 2^32], got ${n}`);
    const limit = 4294967296 - (4294967296 % n);
    let x = this.nextUint32();
    while (x >= limit) x = this.nextUint32();
    return x % n;
  }

  /** A standard normal deviate (Box-Muller; the second value of each pair is kept for the next call). */
  normal(mean = 0, std = 1): number {
    if (this.spareNormal !== null) {
      const z = this.spareNormal;
      this.spareNormal = null;
      return mean + std * z;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return mean + std * r * Math.cos(2 * Math.PI * v);
  }

  /** Fills `out` with N(mean, std^2) values. */
  fillNormal(out: Float32Array | Float64Array, mean = 0, std = 1): typeof out {
    for (let i = 0; i < out.length; i++) out[i] = this.normal(mean, std);
    return out;
  }

  /** Fills `out` with U[low, high) values. */
  fillUniform(out: Float32Array | Float64Array, low = 0, high = 1): typeof out {
    for (let i = 0; i < out.length; i++) out[i] = low + (high - low) * this.uniform();
    return out;
  }

  /** Shuffles in place (Fisher-Yates) and returns the array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i];
      items[i] = items[j];
      items[j] = tmp;
    }
    return items;
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): number[] {
    return this.shuffle(Array.from({ length: n }, (_, i) => i));
  }

  /** One element chosen uniformly, or by `weights` (non-negative, not all zero). */
  choice<T>(items: readonly T[], weights?: readonly number[]): T {
    if (items.length === 0) throw new Error('Rng.choice: no items to choose from');
    if (!weights) return items[this.int(items.length)];
    if (weights.length !== items.length) throw new Error(`Rng.choice: ${weights.length} weights for ${items.length} items`);
    let total = 0;
    for (const w of weights) {
      if (!(w >= 0) || !Number.isFinite(w)) throw new Error(`Rng.choice: weights must be finite and non-negative, got ${w}`);
      total += w;
    }
    if (total === 0) throw new Error('Rng.choice: all weights are zero');
    let r = this.uniform() * total;
    for (let i = 0; i < items.length; i++) {
      r -= weights[i];
      if (r < 0) return items[i];
    }
    return items[items.length - 1];
  }

  /** An independent generator derived from this one's stream (advances this one by four draws). */
  fork(): Rng {
    const child = new Rng(0);
    child.setState({ words: [this.nextUint32(), this.nextUint32(), this.nextUint32(), this.nextUint32()], spareNormal: null });
    return child;
  }

  /** The complete state, JSON-serialisable. */
  getState(): RngState {
    return { words: [this.a >>> 0, this.b >>> 0, this.c >>> 0, this.d >>> 0], spareNormal: this.spareNormal };
  }

  setState(state: RngState): void {
    if (!state || !Array.isArray(state.words) || state.words.length !== 4 || state.words.some((w) => !Number.isInteger(w))) {
      throw new Error(`Rng.setState: expected { words: [4 integers], spareNormal }, got ${JSON.stringify(state)}`);
    }
    [this.a, this.b, this.c, this.d] = state.words.map((w) => w | 0);
    this.spareNormal = state.spareNormal ?? null;
  }
}

export interface RngState {
  words: number[];
  spareNormal: number | null;
}

/** FNV-1a, so string seeds ('world/train') map to stable integers. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
