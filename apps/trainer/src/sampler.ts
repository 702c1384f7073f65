import { Rng, type RngState } from '@mats/core';

/**
 * Draws training examples from several sources mixed by weight, without replacement inside each
 * source: every source is walked in a seeded random order (a fresh order each epoch), and each draw
 * first picks a source with probability weight / sum(weights). The whole position is a few numbers
 * (the source-choice RNG state and, per source, the epoch and the offset), so a checkpoint can store
 * it and a resumed run draws exactly the batches an uninterrupted run would.
 */
export interface SamplerState {
  rng: RngState;
  sources: { epoch: number; offset: number }[];
}

export interface Draw {
  source: number;
  index: number;
}

export class MixedSampler {
  private readonly rng: Rng;
  private readonly cursors: { epoch: number; offset: number }[];
  private readonly orders: ({ epoch: number; perm: Uint32Array } | null)[];

  constructor(
    readonly sizes: number[],
    readonly weights: number[],
    readonly seed: number,
  ) {
    if (sizes.length === 0) throw new Error('MixedSampler: no sources');
    if (weights.length !== sizes.length) throw new Error(`MixedSampler: ${weights.length} weights for ${sizes.length} sources`);
    sizes.forEach((n, i) => {
      if (!Number.isInteger(n) || n <= 0) throw new Error(`MixedSampler: source ${i} has ${n} training records; every source needs at least one`);
    });
    this.rng = new Rng(`${seed}/data-mix`);
    this.cursors = sizes.map(() => ({ epoch: 0, offset: 0 }));
    this.orders = sizes.map(() => null);
  }

  /** The order of source `s` in epoch `e`: a permutation that depends only on (seed, s, e). */
  private order(s: number): Uint32Array {
    const epoch = this.cursors[s].epoch;
    let cached = this.orders[s];
    if (!cached || cached.epoch !== epoch) {
      cached = { epoch, perm: Uint32Array.from(new Rng(`${this.seed}/data-order/${s}/${epoch}`).permutation(this.sizes[s])) };
      this.orders[s] = cached;
    }
    return cached.perm;
  }

  next(count: number): Draw[] {
    const out: Draw[] = [];
    for (let i = 0; i < count; i++) {
      const s = this.sizes.length === 1 ? 0 : this.rng.choice(this.sizes.map((_, k) => k), this.weights);
      const order = this.order(s);
      const cursor = this.cursors[s];
      out.push({ source: s, index: order[cursor.offset] });
      cursor.offset++;
      if (cursor.offset === this.sizes[s]) {
        cursor.epoch++;
        cursor.offset = 0;
      }
    }
    return out;
  }

  getState(): SamplerState {
    return { rng: this.rng.getState(), sources: this.cursors.map((c) => ({ ...c })) };
  }

  setState(state: SamplerState): void {
    if (!state || !Array.isArray(state.sources) || state.sources.length !== this.sizes.length) {
      throw new Error(`sampler state: expected ${this.sizes.length} sources, got ${state?.sources?.length}`);
    }
    this.rng.setState(state.rng);
    state.sources.forEach((c, i) => {
      if (!Number.isInteger(c.epoch) || !Number.isInteger(c.offset) || c.offset < 0 || c.offset >= this.sizes[i]) {
        throw new Error(`sampler state: source ${i} has epoch ${c.epoch} offset ${c.offset}, outside its ${this.sizes[i]} records (was the data changed?)`);
      }
      this.cursors[i] = { epoch: c.epoch, offset: c.offset };
    });
  }
}
