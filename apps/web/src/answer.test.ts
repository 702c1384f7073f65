import { describe, expect, it } from 'vitest';
import { Rng, createEmbeddings } from '@mats/core';
import { buildMemory, transfer } from '@mats/santa';
import { santaStep } from './answer.js';

describe('santaStep (what the page shows of Santa)', () => {
  const rng = new Rng(4);
  const dim = 16;
  const texts = createEmbeddings(60, dim, rng.fillNormal(new Float32Array(60 * dim), 0, 1) as Float32Array);
  const memory = buildMemory(texts, { k: 4, variance: 0.01, seed: 2 });
  const audio = createEmbeddings(1, dim, rng.fillNormal(new Float32Array(dim), 0, 2) as Float32Array);

  for (const topL of [3, 32]) {
    it(`its cluster and weights rebuild @mats/santa's output (topL ${topL})`, () => {
      const options = { topL, tau: 0.1, lambda: 0.3 };
      const step = santaStep(audio.data, memory, options);
      const expected = transfer('santa', audio, memory, options);
      // (1 - lambda) z + lambda sum w_i m_i, normalised, from the displayed members and weights.
      const n = Math.hypot(...audio.data);
      const mix = Array.from(audio.data, (v) => (1 - step.lambda) * (v / n));
      for (const m of step.members) for (let i = 0; i < dim; i++) mix[i] += step.lambda * m.weight * memory.memory.data[m.row * dim + i];
      const norm = Math.hypot(...mix);
      for (let i = 0; i < dim; i++) expect(mix[i] / norm).toBeCloseTo(expected.data[i], 5);
      expect(step.members.length).toBe(Math.min(topL, memory.clusters[step.cluster].length));
      expect(step.clusterSize).toBe(memory.clusters[step.cluster].length);
      for (let i = 1; i < step.members.length; i++) expect(step.members[i].weight).toBeLessThanOrEqual(step.members[i - 1].weight);
    });
  }
});
