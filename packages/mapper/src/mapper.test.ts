import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng, createEmbeddings, l2Normalize, readSafetensors, selectBackend, writeSafetensors, type TensorToWrite } from '@mats/core';
import { createMapper, loadMapper, pytorchTensorSpecs, resolveConfig, type TransformerMapper } from './index.js';
import { fromPytorch, mapWeights, toPytorch } from './weights.js';

const fixtures = new URL('../fixtures/', import.meta.url).pathname;

/** A case written by tools/make_mapper_fixtures.py (PyTorch 1.13 reference modules). */
interface Case {
  config: { clapDim: number; width: number; prefixLength: number; clipLength: number; layers: number; heads: number; mlpRatio: number; llmDim?: number };
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
const tmp = () => mkdtempSync(join(tmpdir(), 'mats-mapper-'));

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function loadCase(name: string, c: Case, withAllOptions: boolean): TransformerMapper {
  const names = { prefix: c.prefix, ...(c.projectionPrefix ? { projectionPrefix: c.projectionPrefix } : {}) };
  // Heads cannot be read off the weights of a PyTorch checkpoint; everything else can.
  const options = withAllOptions ? { ...c.config } : { heads: c.config.heads };
  return loadMapper(join(fixtures, `${name}.safetensors`), { ...options, ...names });
}

beforeAll(async () => {
  await selectBackend('wasm');
});

describe('parity with the PyTorch reference (tools/make_mapper_fixtures.py)', () => {
  for (const name of ['msclap', 'projection', 'mats']) {
    it(`${name}: forward matches within 1e-4, with and without normalisation`, async () => {
      const c = readCase(name);
      for (const withAllOptions of [true, false]) {
        const mapper = loadCase(name, c, withAllOptions);
        expect(mapper.config.outDim).toBe(c.outputShape[2]);
        expect(mapper.config.projection).toBe(c.config.llmDim !== undefined);
        const input = createEmbeddings(c.input.length, c.config.clapDim, flat(c.input));
        const out = await mapper.forward(input);
        expect(out.shape).toEqual(c.outputShape);
        expect(maxAbsDiff(out.data, flat(c.output))).toBeLessThan(1e-4);
        const raw = await mapper.forward(input, { normalize: false, batchSize: 2 });
        expect(maxAbsDiff(raw.data, flat(c.outputWithoutNormalisation))).toBeLessThan(1e-4);
        mapper.dispose();
      }
    });
  }

  for (const name of ['projection', 'mats']) {
    it(`${name}: gradients of apply() inside tf.variableGrads match PyTorch's within 1e-4`, () => {
      const c = readCase(name);
      const mapper = loadCase(name, c, true);
      const x = l2Normalize(createEmbeddings(c.input.length, c.config.clapDim, flat(c.input)));
      const weights = tf.tensor3d(flat(c.gradWeights), c.outputShape as [number, number, number]);
      const { value, grads } = tf.variableGrads(
        () => tf.sum(tf.mul(mapper.apply(tf.tensor2d(x.data, [x.rows, x.dim])), weights)) as tf.Scalar,
        mapper.trainableVariables,
      );
      value.dispose();
      const byInternalName = new Map(mapper.variableNames.map((n, i) => [n, grads[mapper.trainableVariables[i].name].dataSync() as Float32Array]));
      // Same structure as the weights, then PyTorch's names and layout.
      const structure = fromPytorch(mapper.config, (n) => new Float32Array(pytorchTensorSpecs(mapper.config).find((s) => s.name === n)!.shape.reduce((a, b) => a * b, 1)));
      const ours = toPytorch(mapper.config, mapWeights(structure, (_, n) => byInternalName.get(n)!));
      const reference = readSafetensors(join(fixtures, `${name}.grads.safetensors`)).tensors;
      expect(reference.size).toBe(ours.size);
      for (const [n, g] of ours) {
        const refName = n === 'weight' || n === 'bias' ? (c.projectionPrefix ?? c.prefix + 'projection.') + n : c.prefix + n;
        const ref = reference.get(refName);
        expect(ref, refName).toBeDefined();
        expect(maxAbsDiff(g, ref!.data as Float32Array), refName).toBeLessThan(1e-4);
      }
      Object.values(grads).forEach((g) => g.dispose());
      weights.dispose();
      mapper.dispose();
    });
  }
});

describe('createMapper', () => {
  it('resolves the paper defaults (1024 -> 40 x 768, 8 layers, 8 heads, ratio 2) and counts parameters', () => {
    const cfg = resolveConfig({});
    expect(cfg).toMatchObject({ clapDim: 1024, width: 768, prefixLength: 40, clipLength: 40, layers: 8, heads: 8, mlpRatio: 2, hidden: 1536, outDim: 768, projection: false });
    expect(resolveConfig({ llmDim: 4096 })).toMatchObject({ projection: true, outDim: 4096 });
    expect(resolveConfig({ llmDim: 768, projection: false })).toMatchObject({ projection: false, outDim: 768 });
    const specs = pytorchTensorSpecs(cfg);
    const count = specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
    // linear 1024*30720 + 30720, prefix 40*768, per layer 2*768 + 768^2 + 2*768^2 + 768^2 + 768 + 2*768 + 768*1536 + 1536 + 1536*768 + 768
    const perLayer = 2 * 768 + 768 * 768 * 4 + 768 + 2 * 768 + 2 * 768 * 1536 + 1536 + 768;
    expect(count).toBe(1024 * 30720 + 30720 + 40 * 768 + 8 * perLayer);
  });

  it('initialises as PyTorch: U(+-1/sqrt(fan_in)) linears, LayerNorm ones/zeros, N(0,1) prefix_const; seeded', () => {
    const options = { clapDim: 64, width: 32, prefixLength: 50, clipLength: 4, layers: 1, heads: 4, llmDim: 48 };
    const a = createMapper(options, new Rng(7));
    const w = a.getWeights();
    const check = (name: string, fanIn: number) => {
      const data = w.get(name)!;
      const bound = 1 / Math.sqrt(fanIn);
      let sq = 0;
      for (const v of data) {
        expect(Math.abs(v)).toBeLessThanOrEqual(bound);
        sq += v * v;
      }
      // A uniform on [-b, b] has standard deviation b / sqrt(3).
      expect(Math.sqrt(sq / data.length)).toBeCloseTo(bound / Math.sqrt(3), 2);
    };
    check('linear.weight', 64);
    check('transformer.layers.0.attn.to_keys_values.weight', 32);
    check('transformer.layers.0.mlp.fc2.weight', 64);
    check('projection.weight', 32);
    expect([...w.get('transformer.layers.0.norm1.weight')!].every((v) => v === 1)).toBe(true);
    expect([...w.get('transformer.layers.0.norm2.bias')!].every((v) => v === 0)).toBe(true);
    const prefix = w.get('prefix_const')!;
    const mean = prefix.reduce((s, v) => s + v, 0) / prefix.length;
    const std = Math.sqrt(prefix.reduce((s, v) => s + (v - mean) ** 2, 0) / prefix.length);
    expect(Math.abs(mean)).toBeLessThan(0.1);
    expect(std).toBeGreaterThan(0.9);
    expect(std).toBeLessThan(1.1);
    const b = createMapper(options, new Rng(7));
    expect(b.getWeights().get('linear.weight')).toEqual(w.get('linear.weight'));
    a.dispose();
    b.dispose();
  });
});

describe('save, load, getWeights, setWeights', () => {
  it('saveAsync writes the same bytes as save (asynchronous reads, for webgpu)', async () => {
    const mapper = createMapper({ clapDim: 12, width: 8, prefixLength: 3, clipLength: 2, layers: 2, heads: 2, llmDim: 10 }, new Rng(4));
    const dir = tmp();
    mapper.save(join(dir, 'a.safetensors'), { prefix: 'p.' });
    await mapper.saveAsync(join(dir, 'b.safetensors'), { prefix: 'p.' });
    expect(readFileSync(join(dir, 'b.safetensors')).equals(readFileSync(join(dir, 'a.safetensors')))).toBe(true);
    mapper.dispose();
  });

  it('round-trips through a prefixed safetensors file bit-exactly (heads from the metadata)', async () => {
    const options = { clapDim: 12, width: 8, prefixLength: 3, clipLength: 2, layers: 2, heads: 2, llmDim: 10, mlpRatio: 1.5 };
    const mapper = createMapper(options, new Rng(1));
    const file = join(tmp(), 'mapper.safetensors');
    mapper.save(file, { prefix: 'clap_project.' });
    const names = [...readSafetensors(file).tensors.keys()].sort();
    const expected = pytorchTensorSpecs(mapper.config).map((s) => (s.projection ? 'clap_project.projection.' : 'clap_project.') + s.name).sort();
    expect(names).toEqual(expected);
    const loaded = loadMapper(file, { prefix: 'clap_project.' });
    expect(loaded.config).toEqual(mapper.config);
    const input = createEmbeddings(3, 12, new Rng(2).fillNormal(new Float32Array(36)) as Float32Array);
    expect((await loaded.forward(input)).data).toEqual((await mapper.forward(input)).data);

    const other = createMapper(options, new Rng(99));
    expect((await other.forward(input)).data).not.toEqual((await mapper.forward(input)).data);
    other.setWeights(mapper.getWeights());
    expect((await other.forward(input)).data).toEqual((await mapper.forward(input)).data);
    for (const m of [mapper, loaded, other]) m.dispose();
  });

  it('trains with optimizer.minimize through apply()', () => {
    const mapper = createMapper({ clapDim: 8, width: 8, prefixLength: 2, clipLength: 2, layers: 1, heads: 2 }, new Rng(3));
    const x = tf.tensor2d(new Rng(4).fillNormal(new Float32Array(16)) as Float32Array, [2, 8]);
    const target = tf.tensor3d(new Rng(5).fillNormal(new Float32Array(32)) as Float32Array, [2, 2, 8]);
    const optimizer = tf.train.adam(0.01);
    const loss = () => tf.losses.meanSquaredError(target, mapper.apply(x)) as tf.Scalar;
    const first = tf.tidy(() => loss().dataSync()[0]);
    for (let i = 0; i < 60; i++) tf.dispose(optimizer.minimize(loss, false, mapper.trainableVariables));
    const last = tf.tidy(() => loss().dataSync()[0]);
    expect(last).toBeLessThan(first * 0.2);
    optimizer.dispose();
    tf.dispose([x, target]);
    mapper.dispose();
  });
});

describe('bad input', () => {
  const c = readCase('projection');
  const original = readSafetensors(join(fixtures, 'projection.safetensors'));
  const writeWith = (edit: (m: Map<string, TensorToWrite>) => void) => {
    const tensors = new Map<string, TensorToWrite>();
    for (const [n, t] of original.tensors) tensors.set(n, { data: t.data as Float32Array, shape: t.shape });
    edit(tensors);
    const file = join(tmp(), 'bad.safetensors');
    writeSafetensors(file, tensors);
    return file;
  };

  it('a missing tensor is named', () => {
    const file = writeWith((m) => m.delete('transformer.layers.1.attn.to_keys_values.weight'));
    expect(() => loadMapper(file, { heads: 4 })).toThrow(/missing tensor "transformer\.layers\.1\.attn\.to_keys_values\.weight"/);
  });

  it('a misshaped tensor is named with both shapes', () => {
    const file = writeWith((m) => m.set('transformer.layers.0.mlp.fc2.weight', { data: new Float32Array(16 * 31), shape: [16, 31] }));
    expect(() => loadMapper(file, { heads: 4 })).toThrow(/tensor "transformer\.layers\.0\.mlp\.fc2\.weight" has shape \[16,31\], expected \[16,32\]/);
  });

  it('options that disagree with the file are errors naming the tensor or option', () => {
    const file = join(fixtures, 'projection.safetensors');
    expect(() => loadMapper(file, { ...c.config, layers: 1 })).toThrow(/"transformer\.layers\.1\.norm1\.weight" belongs to a layer beyond the 1 configured/);
    expect(() => loadMapper(file, { ...c.config, width: 8, heads: 4 })).toThrow(/prefix_const" has shape \[4,16\], expected \[4,8\]/);
    expect(() => loadMapper(file, { ...c.config, heads: 5 })).toThrow(/width 16 is not divisible by heads 5/);
    expect(() => loadMapper(file, { heads: 4, prefix: 'clap_project.' })).toThrow(/missing tensor "clap_project\.prefix_const"/);
    expect(() => loadMapper(file, { heads: 4, projection: false })).toThrow(/output projection "projection\.weight" but the options disable it/);
  });

  it('wrong embedding size or a zero row is refused', async () => {
    const mapper = loadMapper(join(fixtures, 'projection.safetensors'), { heads: 4 });
    await expect(mapper.forward(createEmbeddings(1, 31))).rejects.toThrow(/expected dim 32, got 31/);
    await expect(mapper.forward(createEmbeddings(1, 32))).rejects.toThrow(/row 0 is all zeros/);
    expect(() => mapper.apply(tf.zeros([2, 31]) as tf.Tensor2D)).toThrow(/expected input \[batch, 32\], got \[2, 31\]/);
    mapper.dispose();
    await expect(mapper.forward(createEmbeddings(1, 32))).rejects.toThrow(/after dispose/);
  });
});
