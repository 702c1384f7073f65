import { readFileSync } from 'node:fs';
import { embeddingsFromRows } from '@mats/core';
import { describe, expect, it } from 'vitest';
import { type SantaMemory, type TransferMethod, kmeans, transfer } from './index.js';

// Produced by tools/make_santa_fixtures.py: scikit-learn KMeans and numpy Santa (equation 7).
const fixture = JSON.parse(readFileSync(new URL('../fixtures/reference.json', import.meta.url), 'utf8'));

describe('k-means against scikit-learn', () => {
  it('from the same initial centroids, gives sklearn labels and centres', () => {
    const { points, dim, k, init_rows: initRows, labels, centers } = fixture.kmeans;
    const data = Float32Array.from(points.flat());
    const init = Float64Array.from(initRows.flatMap((r: number) => points[r]));
    for (const implementation of ['fast', 'ml-kmeans'] as const) {
      const r = kmeans(data, points.length, dim, { k, iterations: 50, seed: 0, initialCentroids: init, implementation });
      expect(r.converged).toBe(true);
      expect(Array.from(r.assignments)).toEqual(labels);
      Array.from(r.centroids).forEach((v, i) => expect(v).toBeCloseTo(centers.flat()[i], 5));
    }
  });
});

describe('Santa against numpy', () => {
  const s = fixture.santa;
  const k = s.centroids.length;
  const assignments = Int32Array.from(s.labels);
  const memory: SantaMemory = {
    memory: embeddingsFromRows(s.memory),
    centroids: embeddingsFromRows(s.centroids),
    assignments,
    clusters: Array.from({ length: k }, (_, c) => Int32Array.from(s.labels.flatMap((l: number, i: number) => (l === c ? [i] : [])))),
    info: { k, variance: 0, iterations: 50, seed: 0, maxSize: s.memory.length, implementation: 'fast', sourceRows: s.memory.length, iterationsRun: 0, converged: true },
  };
  const queries = embeddingsFromRows(s.queries);

  const cases: [string, TransferMethod, object][] = [
    ['default_L32', 'santa', {}],
    ['L5', 'santa', { topL: 5 }],
    ['L5_tau1_lambda0.6', 'santa', { topL: 5, tau: 1, lambda: 0.6 }],
    ['L5_raw_audio', 'santa', { topL: 5, normalizeAudio: false }],
    ['L40_pad', 'santa', { topL: 40, padClusters: true }],
    ['no_kmeans_L5', 'no-kmeans', { topL: 5 }],
    ['memory_only', 'memory-only', {}],
    ['no_audio_L5', 'no-audio', { topL: 5 }],
  ];
  for (const [name, method, options] of cases) {
    it(`${name}: ${method} ${JSON.stringify(options)}`, () => {
      const out = transfer(method, queries, memory, options);
      const expected: number[][] = s.cases[name].output;
      expected.forEach((row, i) => row.forEach((v, j) => expect(out.data[i * out.dim + j]).toBeCloseTo(v, 5)));
    });
  }

  it('the cases differ from each other (each option changes the result)', () => {
    const outputs = Object.values(s.cases).map((c) => JSON.stringify((c as { output: number[][] }).output));
    expect(new Set(outputs).size).toBe(outputs.length);
  });
});
