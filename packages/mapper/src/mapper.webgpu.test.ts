// The mapper on the webgpu backend (dawn.node): forward against the PyTorch fixtures within 1e-4,
// gradients of apply() against the cpu backend within 1e-4. Public API only. Skipped, with the
// reason in the suite name, where no WebGPU adapter exists (CI installs Mesa 25 lavapipe, see .ci/run).
import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createEmbeddings, l2Normalize, probeWebGpu, releaseWebGpu, selectBackend } from '@mats/core';
import { loadMapper, type TransformerMapper } from './index.js';

const fixtures = new URL('../fixtures/', import.meta.url).pathname;

interface Case {
  config: { clapDim: number; heads: number };
  prefix: string;
  projectionPrefix: string | null;
  input: number[][];
  outputShape: number[];
  output: number[][];
  outputWithoutNormalisation: number[][];
  gradWeights: number[][];
}
const readCase = (name: string): Case => JSON.parse(readFileSync(join(fixtures, `${name}.json`), 'utf8'));
const flat = (rows: number[][]) => Float32Array.from(rows.flat());

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function load(name: string, c: Case): TransformerMapper {
  return loadMapper(join(fixtures, `${name}.safetensors`), { heads: c.config.heads, prefix: c.prefix, ...(c.projectionPrefix ? { projectionPrefix: c.projectionPrefix } : {}) });
}

/** sum(apply(x) * w) and its gradient for every trainable tensor, read asynchronously. */
async function grads(name: string, c: Case): Promise<Float32Array[]> {
  const mapper = load(name, c);
  const x = l2Normalize(createEmbeddings(c.input.length, c.config.clapDim, flat(c.input)));
  const w = tf.tensor3d(flat(c.gradWeights), c.outputShape as [number, number, number]);
  const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(mapper.apply(tf.tensor2d(x.data, [x.rows, x.dim])), w)) as tf.Scalar, mapper.trainableVariables);
  const out = await Promise.all(mapper.trainableVariables.map(async (v) => (await grads[v.name].data()) as Float32Array));
  tf.dispose([value, w, ...Object.values(grads)]);
  mapper.dispose();
  return out;
}

const probe = await probeWebGpu();
const reason = probe.available ? '' : ` (skipped: ${probe.reason})`;
afterAll(async () => {
  releaseWebGpu();
  await selectBackend('wasm');
});

// Generous: lavapipe compiles every shader on a busy CPU the first time it runs.
describe.skipIf(!probe.available)(`TransformerMapper on webgpu${reason}`, { timeout: 300_000 }, () => {
  for (const name of ['msclap', 'projection', 'mats']) {
    it(`${name}: forward matches PyTorch within 1e-4, with and without normalisation`, async () => {
      await selectBackend('webgpu');
      const c = readCase(name);
      const mapper = load(name, c);
      const input = createEmbeddings(c.input.length, c.config.clapDim, flat(c.input));
      const out = await mapper.forward(input);
      expect(tf.getBackend()).toBe('webgpu');
      expect(out.shape).toEqual(c.outputShape);
      expect(maxAbsDiff(out.data, flat(c.output))).toBeLessThan(1e-4);
      const raw = await mapper.forward(input, { normalize: false, batchSize: 2 });
      expect(maxAbsDiff(raw.data, flat(c.outputWithoutNormalisation))).toBeLessThan(1e-4);
      mapper.dispose();
    });
  }

  for (const name of ['projection', 'mats']) {
    it(`${name}: gradients of apply() equal the cpu backend's within 1e-4`, async () => {
      const c = readCase(name);
      await selectBackend('cpu');
      const cpu = await grads(name, c);
      await selectBackend('webgpu');
      const gpu = await grads(name, c);
      expect(gpu.length).toBe(cpu.length);
      expect(gpu.length).toBeGreaterThan(10);
      gpu.forEach((g, i) => expect(maxAbsDiff(g, cpu[i]), `gradient ${i}`).toBeLessThan(1e-4));
      expect(Math.max(...gpu.map((g) => Math.max(...Array.from(g, Math.abs))))).toBeGreaterThan(1e-2);
    });
  }
});
