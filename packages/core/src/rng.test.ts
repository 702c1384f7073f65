import { describe, expect, it } from 'vitest';
import { Rng } from './rng.js';

describe('Rng', () => {
  it('is deterministic per seed and differs across seeds', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const seqA = Array.from({ length: 8 }, () => a.nextUint32());
    expect(Array.from({ length: 8 }, () => b.nextUint32())).toEqual(seqA);
    expect(Array.from({ length: 8 }, () => c.nextUint32())).not.toEqual(seqA);
    expect(new Rng('world').uniform()).toBe(new Rng('world').uniform());
  });

  it('has uniform and normal moments within tight statistical bounds', () => {
    const rng = new Rng(7);
    const n = 200_000;
    let s = 0;
    let s2 = 0;
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < n; i++) {
      const u = rng.uniform();
      min = Math.min(min, u);
      max = Math.max(max, u);
      s += u;
      s2 += u * u;
    }
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThan(1);
    // Uniform: mean 1/2 (se 0.00065), variance 1/12.
    expect(Math.abs(s / n - 0.5)).toBeLessThan(0.004);
    expect(Math.abs(s2 / n - (s / n) ** 2 - 1 / 12)).toBeLessThan(0.002);
    const z = rng.fillNormal(new Float64Array(n), 1, 2);
    const mean = z.reduce((x, y) => x + y, 0) / n;
    const variance = z.reduce((x, y) => x + (y - mean) ** 2, 0) / n;
    // N(1, 4): mean se = 2/sqrt(n) = 0.0045; variance se ~ 4*sqrt(2/n) = 0.0126.
    expect(Math.abs(mean - 1)).toBeLessThan(0.025);
    expect(Math.abs(variance - 4)).toBeLessThan(0.07);
  });

  it('int is unbiased over a small range and shuffle is a permutation', () => {
    const rng = new Rng(1);
    const counts = [0, 0, 0];
    for (let i = 0; i < 30_000; i++) counts[rng.int(3)]++;
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(400);
    const p = rng.permutation(50);
    expect([...p].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(p).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('weighted choice follows the weights and rejects bad ones', () => {
    const rng = new Rng(3);
    let hits = 0;
    for (let i = 0; i < 20_000; i++) if (rng.choice(['a', 'b'], [1, 3]) === 'b') hits++;
    expect(Math.abs(hits / 20_000 - 0.75)).toBeLessThan(0.02);
    expect(() => rng.choice(['a'], [0])).toThrow(/all weights are zero/);
    expect(() => rng.choice([], undefined)).toThrow(/no items/);
  });

  it('restores its exact state, including a pending normal', () => {
    const rng = new Rng(5);
    rng.normal();
    const state = JSON.parse(JSON.stringify(rng.getState()));
    const next = [rng.normal(), rng.uniform(), rng.normal()];
    const other = new Rng(0);
    other.setState(state);
    expect([other.normal(), other.uniform(), other.normal()]).toEqual(next);
  });
});
