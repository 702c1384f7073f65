import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng, createEmbeddings, embeddingsFromRows, readSafetensors, rowNorms, serializeSafetensors } from '@mats/core';
import { afterAll, describe, expect, it } from 'vitest';
import { buildMemory, loadMemory, saveMemory, santa } from './index.js';

function texts(rows: number, dim: number, seed: number) {
  const e = createEmbeddings(rows, dim);
  new Rng(seed).fillNormal(e.data);
  return e;
}

const dir = mkdtempSync(join(tmpdir(), 'santa-memory-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('buildMemory', () => {
  const text = texts(300, 12, 1);

  it('makes M noisy unit rows, K centroids that are the means of their members, and the member lists', () => {
    const m = buildMemory(text, { k: 6, variance: 0.015, seed: 2 });
    expect(m.memory.rows).toBe(300);
    expect(m.centroids.rows).toBe(6);
    for (const v of rowNorms(m.memory)) expect(v).toBeCloseTo(1, 6);
    expect(m.clusters.reduce((s, c) => s + c.length, 0)).toBe(300);
    m.clusters.forEach((members, c) => {
      expect(members.length).toBeGreaterThan(0);
      for (const i of members) expect(m.assignments[i]).toBe(c);
      for (let j = 0; j < 12; j++) {
        let mean = 0;
        for (const i of members) mean += m.memory.data[i * 12 + j];
        expect(m.centroids.data[c * 12 + j]).toBeCloseTo(mean / members.length, 6);
      }
    });
    expect(m.info).toMatchObject({ k: 6, variance: 0.015, seed: 2, maxSize: 5172, implementation: 'fast', sourceRows: 300 });
  });

  it('is deterministic: the same seed gives the same memory and clusters, another seed does not', () => {
    const a = buildMemory(text, { k: 5, seed: 7 });
    const b = buildMemory(text, { k: 5, seed: 7 });
    const c = buildMemory(text, { k: 5, seed: 8 });
    expect(b.memory.data).toEqual(a.memory.data);
    expect(b.centroids.data).toEqual(a.centroids.data);
    expect(b.assignments).toEqual(a.assignments);
    expect(c.memory.data).not.toEqual(a.memory.data);
  });

  it('both implementations build the same memory from the same seed and start', () => {
    const init = buildMemory(text, { k: 4, seed: 3, iterations: 1 }).centroids;
    const fast = buildMemory(text, { k: 4, seed: 3, initialCentroids: init, implementation: 'fast' });
    const ml = buildMemory(text, { k: 4, seed: 3, initialCentroids: init, implementation: 'ml-kmeans' });
    expect(ml.memory.data).toEqual(fast.memory.data);
    expect(Array.from(ml.assignments)).toEqual(Array.from(fast.assignments));
  });

  it('keeps a seeded random subset of maxSize texts, in their original order', () => {
    const m = buildMemory(text, { k: 3, seed: 4, maxSize: 50, variance: 0 });
    expect(m.memory.rows).toBe(50);
    // variance 0: every memory row is a normalised source row, and they keep the source order.
    const norms = rowNorms(text);
    let last = -1;
    for (let r = 0; r < 50; r++) {
      let found = -1;
      for (let i = 0; i < text.rows && found < 0; i++) {
        if (Math.abs(m.memory.data[r * 12] - text.data[i * 12] / norms[i]) < 1e-6 && Math.abs(m.memory.data[r * 12 + 5] - text.data[i * 12 + 5] / norms[i]) < 1e-6) found = i;
      }
      expect(found).toBeGreaterThan(last);
      last = found;
    }
    expect(buildMemory(text, { k: 3, seed: 4, maxSize: 50, variance: 0 }).memory.data).toEqual(m.memory.data);
  });

  it('rejects K > M, empty input, NaN and bad options', () => {
    expect(() => buildMemory(text, { k: 301 })).toThrow(/k = 301 clusters is more than the 300 memory entries/);
    expect(() => buildMemory(text, { k: 20, maxSize: 10 })).toThrow(/k = 20 clusters is more than the 10 memory entries \(300 texts, maxSize 10\)/);
    expect(() => buildMemory(createEmbeddings(0, 12), { k: 1 })).toThrow(/text embeddings: is empty/);
    const bad = texts(10, 4, 1);
    bad.data[13] = Number.NaN;
    expect(() => buildMemory(bad, { k: 2 })).toThrow(/non-finite value NaN at row 3, column 1/);
    expect(() => buildMemory(text, { k: 0 })).toThrow(/k must be a positive integer/);
    expect(() => buildMemory(text, { k: 2, variance: -0.1 })).toThrow(/variance must be a finite number >= 0/);
    expect(() => buildMemory(text, { k: 2, iterations: 0 })).toThrow(/iterations must be a positive integer/);
  });
});

describe('saveMemory / loadMemory', () => {
  const memory = buildMemory(texts(120, 8, 5), { k: 4, seed: 6 });

  it('round-trips memory, centroids, assignments and options through one safetensors file', () => {
    const path = join(dir, 'santa.safetensors');
    saveMemory(path, memory);
    const file = readSafetensors(path);
    expect([...file.tensors.keys()].sort()).toEqual(['assignments', 'centroids', 'memory']);
    expect(file.tensors.get('memory')!.shape).toEqual([120, 8]);
    expect(file.tensors.get('assignments')!.dtype).toBe('I32');
    expect(file.metadata.format).toBe('mats-santa-memory');
    const back = loadMemory(path);
    expect(back.memory.data).toEqual(memory.memory.data);
    expect(back.centroids.data).toEqual(memory.centroids.data);
    expect(back.assignments).toEqual(memory.assignments);
    expect(back.clusters).toEqual(memory.clusters);
    expect(back.info).toEqual(memory.info);
    const audio = texts(3, 8, 9);
    expect(santa(audio, back).data).toEqual(santa(audio, memory).data);
  });

  function writeVariant(name: string, change: (t: Record<string, { data: Float32Array | Int32Array; shape: number[] }>, meta: Record<string, string>) => void) {
    const tensors: Record<string, { data: Float32Array | Int32Array; shape: number[] }> = {
      memory: { data: new Float32Array(memory.memory.data), shape: [120, 8] },
      centroids: { data: new Float32Array(memory.centroids.data), shape: [4, 8] },
      assignments: { data: new Int32Array(memory.assignments), shape: [120] },
    };
    const meta = { format: 'mats-santa-memory', format_version: '1', options: JSON.stringify(memory.info) };
    change(tensors, meta);
    const path = join(dir, name);
    writeFileSync(path, serializeSafetensors(tensors, meta));
    return path;
  }

  it('rejects inconsistent or corrupt files, naming the file and the problem', () => {
    const missing = writeVariant('missing.safetensors', (t) => delete (t as Record<string, unknown>).centroids);
    expect(() => loadMemory(missing)).toThrow(/missing\.safetensors: not a valid Santa memory file: missing tensor "centroids"/);
    const badIndex = writeVariant('index.safetensors', (t) => (t.assignments.data[7] = 4));
    expect(() => loadMemory(badIndex)).toThrow(/assignment of memory row 7 is 4, expected a cluster in \[0, 4\)/);
    const badDim = writeVariant('dim.safetensors', (t) => (t.centroids = { data: new Float32Array(4 * 7), shape: [4, 7] }));
    expect(() => loadMemory(badDim)).toThrow(/centroids: expected dim 8, got 7/);
    const shortAssignments = writeVariant('short.safetensors', (t) => (t.assignments = { data: new Int32Array(119), shape: [119] }));
    expect(() => loadMemory(shortAssignments)).toThrow(/assignments must be an Int32Array of length 120/);
    const nan = writeVariant('nan.safetensors', (t) => (t.memory.data[17] = Number.NaN));
    expect(() => loadMemory(nan)).toThrow(/memory: non-finite value NaN at row 2, column 1/);
    const format = writeVariant('format.safetensors', (_, m) => (m.format = 'something-else'));
    expect(() => loadMemory(format)).toThrow(/metadata "format" is "something-else", expected "mats-santa-memory"/);
    const options = writeVariant('options.safetensors', (_, m) => (m.options = '{not json'));
    expect(() => loadMemory(options)).toThrow(/metadata "options" is not JSON/);
    const good = join(dir, 'santa.safetensors');
    const truncated = join(dir, 'truncated.safetensors');
    const bytes = readFileSync(good);
    writeFileSync(truncated, bytes.subarray(0, bytes.length - 10));
    expect(() => loadMemory(truncated)).toThrow(/truncated\.safetensors: invalid safetensors file/);
    expect(() => loadMemory(join(dir, 'nope.safetensors'))).toThrow(/nope\.safetensors: cannot read/);
  });

  it('saveMemory refuses a memory whose parts disagree', () => {
    const broken = { ...memory, assignments: new Int32Array(3) };
    expect(() => saveMemory(join(dir, 'broken.safetensors'), broken)).toThrow(/assignments must be an Int32Array of length 120/);
    const tiny = buildMemory(embeddingsFromRows([[1, 0], [0, 1]]), { k: 2, variance: 0 });
    expect(tiny.assignments.length).toBe(2);
  });
});
