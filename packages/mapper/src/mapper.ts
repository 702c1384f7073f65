import * as tf from '@tensorflow/tfjs';
import {
  type Embeddings,
  Rng,
  assertFiniteTensors,
  getFloatTensor,
  l2Normalize,
  ops,
  readSafetensors,
  validateEmbeddings,
  writeSafetensors,
  type SafetensorsFile,
  type TensorToWrite,
} from '@mats/core';
import { LAYER_NORM_EPS, type MapperConfig, type MapperOptions, configToOptions, resolveConfig } from './config.js';
import {
  type HostTensor,
  type LayerWeights,
  type MapperWeights,
  flattenWeights,
  fromPytorch,
  mapWeights,
  pytorchTensorSpecs,
  toPytorch,
} from './weights.js';

/** Where a mapper's tensors live inside a safetensors file. */
export interface WeightNames {
  /** Prepended to every mapper tensor name, e.g. `clap_project.` (msclap) or `audio_mapper.` (MATS). Default ''. */
  prefix?: string;
  /** Prepended to `weight`/`bias` of the output projection. Default `${prefix}projection.`; MATS uses `audio_llama_proj.`. */
  projectionPrefix?: string;
}

export interface ForwardOptions {
  /** L2-normalise each CLAP embedding before the mapper, as msclap, Pengi and MATS do. Default true. */
  normalize?: boolean;
  /** Rows per tfjs call (bounds memory). Default 32. */
  batchSize?: number;
}

/** Output of `forward`: row-major `[rows, prefixLength, outDim]`. */
export interface MapperOutput {
  data: Float32Array;
  shape: [number, number, number];
}

/** Metadata key under which `save` records the options (heads cannot be read off the weights). */
export const CONFIG_METADATA_KEY = 'mats.mapper.options';

const PROJECTION_DEFAULT = 'projection.';

const mat = (v: tf.Variable): tf.Tensor2D => v as tf.Tensor2D;
const vec = (v: tf.Variable): tf.Tensor1D => v as tf.Tensor1D;

/**
 * The TransformerMapper of msclap / Pengi / MATS: CLAP embedding -> `prefixLength` LLM input vectors.
 * Weights are tfjs variables in [in, out] layout; PyTorch names and layout appear only at the file
 * boundary (load, save, getWeights, setWeights).
 */
export class TransformerMapper {
  readonly config: MapperConfig;
  private readonly vars: MapperWeights<tf.Variable>;
  private disposed = false;

  constructor(config: MapperConfig, weights: MapperWeights<HostTensor>) {
    this.config = config;
    this.vars = mapWeights(weights, (t) => tf.tidy(() => tf.variable(tf.tensor(t.data, t.shape), true)));
  }

  /** Every trainable tensor (all of them: the mapper has no frozen parts), in a fixed order. */
  get trainableVariables(): tf.Variable[] {
    this.assertAlive();
    return flattenWeights(this.vars).map((e) => e.value);
  }

  /** Internal names of `trainableVariables`, same order (e.g. `layers.0.query`), for optimiser state files. */
  get variableNames(): string[] {
    return flattenWeights(this.vars).map((e) => e.name);
  }

  /** Number of scalar parameters. */
  get parameterCount(): number {
    return flattenWeights(this.vars).reduce((n, e) => n + e.value.size, 0);
  }

  /**
   * The mapper as a pure tensor function, for training: `x` is `[batch, clapDim]` (not normalised
   * here), the result `[batch, prefixLength, outDim]`. Differentiable with respect to
   * `trainableVariables` on every backend (no gather).
   */
  apply(x: tf.Tensor2D): tf.Tensor3D {
    this.assertAlive();
    const { clapDim, clipLength: L, prefixLength: P, width: C, outDim } = this.config;
    if (x.rank !== 2 || x.shape[1] !== clapDim) {
      throw new Error(`mapper.apply: expected input [batch, ${clapDim}], got [${x.shape.join(', ')}]`);
    }
    return tf.tidy(() => {
      const B = x.shape[0];
      const T = L + P;
      const w = this.vars;
      const clip = tf.reshape(ops.linearConstantInput(x, mat(w.linear), vec(w.linearBias)), [B, L, C]);
      const queries = tf.tile(tf.expandDims(w.prefixConst, 0), [B, 1, 1]);
      // Activations stay 2-D [B*T, C] so every projection is one plain 2-D product.
      let h = tf.reshape(tf.concat([clip, queries], 1), [B * T, C]) as tf.Tensor2D;
      // One tidy per block frees what the backward pass does not need as soon as the block is done.
      // Only the last P positions are returned, so the last block computes its queries, attention
      // output and MLP for those rows only (keys and values still come from every position).
      w.layers.forEach((layer, i) => {
        const input = h;
        h = tf.tidy(() => this.block(input, layer, B, i === w.layers.length - 1 ? L : 0));
      });
      const out = tf.reshape(h, [B, P, C]);
      if (!this.config.projection) return out as tf.Tensor3D;
      const projected = ops.linear(tf.reshape(out, [B * P, C]) as tf.Tensor2D, mat(w.projection!), vec(w.projectionBias!));
      return tf.reshape(projected, [B, P, outDim]) as tf.Tensor3D;
    });
  }

  /**
   * One pre-LayerNorm block, x + attn(norm1(x)) then x + mlp(norm2(x)), on x [B*T, C]. With
   * `skip` > 0 the output keeps only positions skip..T-1 of each row ([B*(T-skip), C]).
   */
  private block(x: tf.Tensor2D, w: LayerWeights<tf.Variable>, B: number, skip: number): tf.Tensor2D {
    const { width: C, heads: H } = this.config;
    const T = x.shape[0] / B;
    const suffix = (t: tf.Tensor2D) => (skip === 0 ? t : (tf.reshape(tf.slice(tf.reshape(t, [B, T, C]), [0, skip, 0], [B, T - skip, C]), [B * (T - skip), C]) as tf.Tensor2D));
    const normed = ops.layerNorm(x, vec(w.norm1Gamma), vec(w.norm1Beta), LAYER_NORM_EPS);
    // Heads side by side in the columns as msclap's MultiHeadAttention; scale 1 / sqrt(head width).
    const context = ops.attentionRows(ops.linear(suffix(normed), mat(w.query)), ops.linear(normed, mat(w.key)), ops.linear(normed, mat(w.value)), B, H);
    const attended = ops.residualAdd(suffix(x), ops.linear(context, mat(w.project), vec(w.projectBias)));
    const hidden = ops.linear(ops.layerNorm(attended, vec(w.norm2Gamma), vec(w.norm2Beta), LAYER_NORM_EPS), mat(w.fc1), vec(w.fc1Bias), { relu: true });
    return ops.residualAdd(attended, ops.linear(hidden, mat(w.fc2), vec(w.fc2Bias)));
  }

  /**
   * Inference: maps CLAP embeddings (`dim` must equal clapDim) to LLM prefixes. Each row is
   * L2-normalised first unless `normalize` is false.
   */
  async forward(embeddings: Embeddings, options: ForwardOptions = {}): Promise<MapperOutput> {
    this.assertAlive();
    const { clapDim, prefixLength, outDim } = this.config;
    const batchSize = options.batchSize ?? 32;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`mapper.forward: batchSize must be a positive integer, got ${batchSize}`);
    validateEmbeddings(embeddings, { name: 'mapper.forward input', dim: clapDim, nonEmpty: false });
    const input = (options.normalize ?? true) ? l2Normalize(embeddings) : embeddings;
    const rowSize = prefixLength * outDim;
    const data = new Float32Array(input.rows * rowSize);
    for (let start = 0; start < input.rows; start += batchSize) {
      const n = Math.min(batchSize, input.rows - start);
      const y = tf.tidy(() => this.apply(tf.tensor2d(input.data.subarray(start * clapDim, (start + n) * clapDim), [n, clapDim])));
      try {
        data.set(await y.data(), start * rowSize);
      } finally {
        y.dispose();
      }
    }
    return { data, shape: [input.rows, prefixLength, outDim] };
  }

  /**
   * Current weights under PyTorch names and layout ([out, in] for Linear), without any prefix; the
   * output projection appears as `projection.weight` / `projection.bias`.
   */
  getWeights(): Map<string, Float32Array> {
    this.assertAlive();
    const host = mapWeights(this.vars, (v) => v.dataSync() as Float32Array);
    const named = toPytorch(this.config, host);
    const out = new Map<string, Float32Array>();
    for (const [name, data] of named) out.set(isProjectionName(name) ? PROJECTION_DEFAULT + name : name, data);
    return out;
  }

  /** Replaces every weight from a map shaped like getWeights() (all names required, no extras). */
  setWeights(weights: Map<string, Float32Array>): void {
    this.assertAlive();
    const specs = pytorchTensorSpecs(this.config);
    const expected = new Set(specs.map((s) => (s.projection ? PROJECTION_DEFAULT + s.name : s.name)));
    for (const name of weights.keys()) {
      if (!expected.has(name)) throw new Error(`mapper.setWeights: unexpected tensor "${name}"`);
    }
    const host = fromPytorch(this.config, (name) => {
      const key = isProjectionName(name) ? PROJECTION_DEFAULT + name : name;
      const spec = specs.find((s) => s.name === name)!;
      const data = weights.get(key);
      if (!data) throw new Error(`mapper.setWeights: missing tensor "${key}"`);
      const size = spec.shape.reduce((a, b) => a * b, 1);
      if (data.length !== size) throw new Error(`mapper.setWeights: tensor "${key}" has ${data.length} values, expected ${size} for shape ${JSON.stringify(spec.shape)}`);
      return data;
    });
    const pairs = flattenWeights(this.vars);
    const values = flattenWeights(host);
    tf.tidy(() => pairs.forEach((p, i) => p.value.assign(tf.tensor(values[i].value.data, values[i].value.shape))));
  }

  /** Writes a safetensors file with PyTorch names (and the options in the metadata). */
  save(file: string, names: WeightNames = {}): void {
    this.assertAlive();
    this.writeFile(file, names, mapWeights(this.vars, (v) => v.dataSync() as Float32Array));
  }

  /**
   * `save` with asynchronous reads: the same file, on every backend (webgpu has no synchronous
   * read in Node). The trainer's checkpoints use it.
   */
  async saveAsync(file: string, names: WeightNames = {}): Promise<void> {
    this.assertAlive();
    const flat = flattenWeights(this.vars);
    const data = await Promise.all(flat.map((e) => e.value.data() as Promise<Float32Array>));
    const byVariable = new Map(flat.map((e, i) => [e.value, data[i]]));
    this.writeFile(file, names, mapWeights(this.vars, (v) => byVariable.get(v)!));
  }

  private writeFile(file: string, names: WeightNames, host: MapperWeights<Float32Array>): void {
    const { prefix, projectionPrefix } = resolveNames(names);
    const specs = pytorchTensorSpecs(this.config);
    const tensors = new Map<string, TensorToWrite>();
    const named = toPytorch(this.config, host);
    for (const spec of specs) {
      tensors.set((spec.projection ? projectionPrefix : prefix) + spec.name, { data: named.get(spec.name)!, shape: spec.shape });
    }
    writeSafetensors(file, tensors, { format: 'pt', [CONFIG_METADATA_KEY]: JSON.stringify(configToOptions(this.config)) });
  }

  dispose(): void {
    if (this.disposed) return;
    for (const { value } of flattenWeights(this.vars)) value.dispose();
    this.disposed = true;
  }

  private assertAlive(): void {
    if (this.disposed) throw new Error('mapper: used after dispose()');
  }
}

const isProjectionName = (name: string) => name === 'weight' || name === 'bias';

function resolveNames(names: WeightNames): Required<WeightNames> {
  const prefix = names.prefix ?? '';
  return { prefix, projectionPrefix: names.projectionPrefix ?? prefix + PROJECTION_DEFAULT };
}

/**
 * A fresh mapper initialised as PyTorch does: every nn.Linear weight and bias uniform in
 * +-1/sqrt(fan_in) (kaiming_uniform with a = sqrt(5)), LayerNorm ones / zeros, prefix_const N(0, 1).
 */
export function createMapper(options: MapperOptions = {}, rng: Rng = new Rng(0)): TransformerMapper {
  const config = resolveConfig(options);
  const { clapDim, width: c, hidden, clipLength, prefixLength } = config;
  const uniform = (shape: number[], fanIn: number): HostTensor => {
    const bound = 1 / Math.sqrt(fanIn);
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    return { shape, data: rng.fillUniform(data, -bound, bound) as Float32Array };
  };
  const fill = (n: number, value: number): HostTensor => ({ shape: [n], data: new Float32Array(n).fill(value) });
  const weights: MapperWeights<HostTensor> = {
    linear: uniform([clipLength * c, clapDim], clapDim),
    linearBias: uniform([clipLength * c], clapDim),
    prefixConst: { shape: [prefixLength, c], data: rng.fillNormal(new Float32Array(prefixLength * c)) as Float32Array },
    layers: [],
  };
  for (let i = 0; i < config.layers; i++) {
    weights.layers.push({
      norm1Gamma: fill(c, 1),
      norm1Beta: fill(c, 0),
      query: uniform([c, c], c),
      key: uniform([c, c], c),
      value: uniform([c, c], c),
      project: uniform([c, c], c),
      projectBias: uniform([c], c),
      norm2Gamma: fill(c, 1),
      norm2Beta: fill(c, 0),
      fc1: uniform([c, hidden], c),
      fc1Bias: uniform([hidden], c),
      fc2: uniform([hidden, c], hidden),
      fc2Bias: uniform([c], hidden),
    });
  }
  if (config.projection) {
    weights.projection = uniform([c, config.outDim], c);
    weights.projectionBias = uniform([config.outDim], c);
  }
  return new TransformerMapper(config, weights);
}

export interface LoadMapperOptions extends MapperOptions, WeightNames {}

/**
 * Loads a mapper from a safetensors file with PyTorch names (msclap / Pengi / MATS checkpoints
 * converted to safetensors, or files written by `save`). Options left out are read off the file:
 * sizes from the tensor shapes, the projection from the presence of its tensors, heads from the
 * metadata `save` writes (else 8). Options given must agree with the file. Tensors outside the
 * prefix are ignored, so a whole model checkpoint can be passed.
 */
export function loadMapper(file: string | SafetensorsFile, options: LoadMapperOptions = {}): TransformerMapper {
  const source = typeof file === 'string' ? file : '<safetensors>';
  const st = typeof file === 'string' ? readSafetensors(file) : file;
  assertFiniteTensors(st, source);
  const { prefix, projectionPrefix } = resolveNames(options);
  const config = resolveConfig(inferOptions(st, options, prefix, projectionPrefix, source), source);

  const extraLayer = `${prefix}transformer.layers.${config.layers}.`;
  for (const name of st.tensors.keys()) {
    if (name.startsWith(extraLayer)) {
      throw new Error(`${source}: tensor "${name}" belongs to a layer beyond the ${config.layers} configured (layers option?)`);
    }
  }
  if (!config.projection && st.tensors.has(projectionPrefix + 'weight')) {
    throw new Error(`${source}: the file has an output projection "${projectionPrefix}weight" but the options disable it (projection: false)`);
  }
  // Check every tensor in state_dict order first, so the first error is the first bad tensor.
  const tensors = new Map<string, Float32Array>();
  for (const spec of pytorchTensorSpecs(config)) {
    tensors.set(spec.name, getFloatTensor(st, (spec.projection ? projectionPrefix : prefix) + spec.name, spec.shape, source));
  }
  return new TransformerMapper(config, fromPytorch(config, (name) => tensors.get(name)!));
}

/** Fills options the caller left out from the file's shapes and metadata. */
function inferOptions(st: SafetensorsFile, given: MapperOptions, prefix: string, projectionPrefix: string, source: string): MapperOptions {
  const shapeOf = (name: string): number[] => {
    const t = st.tensors.get(prefix + name);
    if (!t) {
      const hint = prefix === '' ? '' : ` (prefix "${prefix}")`;
      throw new Error(`${source}: missing tensor "${prefix + name}"${hint}`);
    }
    return t.shape;
  };
  let saved: MapperOptions = {};
  const meta = st.metadata[CONFIG_METADATA_KEY];
  if (meta) {
    try {
      saved = JSON.parse(meta);
    } catch {
      throw new Error(`${source}: metadata "${CONFIG_METADATA_KEY}" is not valid JSON`);
    }
  }
  const out: MapperOptions = { ...given };
  const prefixShape = shapeOf('prefix_const');
  const linearShape = shapeOf('linear.weight');
  if (prefixShape.length !== 2) throw new Error(`${source}: tensor "${prefix}prefix_const" has shape ${JSON.stringify(prefixShape)}, expected [prefixLength, width]`);
  if (linearShape.length !== 2) throw new Error(`${source}: tensor "${prefix}linear.weight" has shape ${JSON.stringify(linearShape)}, expected [clipLength * width, clapDim]`);
  out.width ??= prefixShape[1];
  out.prefixLength ??= prefixShape[0];
  out.clapDim ??= linearShape[1];
  if (out.clipLength === undefined) {
    if (linearShape[0] % out.width !== 0) {
      throw new Error(`${source}: tensor "${prefix}linear.weight" has ${linearShape[0]} outputs, not a multiple of width ${out.width}`);
    }
    out.clipLength = linearShape[0] / out.width;
  }
  if (out.layers === undefined) {
    let layers = 0;
    while (st.tensors.has(`${prefix}transformer.layers.${layers}.norm1.weight`)) layers++;
    if (layers === 0) throw new Error(`${source}: missing tensor "${prefix}transformer.layers.0.norm1.weight" (no transformer layers found)`);
    out.layers = layers;
  }
  if (out.mlpRatio === undefined) {
    const fc1 = shapeOf('transformer.layers.0.mlp.fc1.weight');
    out.mlpRatio = saved.mlpRatio ?? fc1[0] / out.width;
  }
  out.heads ??= saved.heads;
  const projection = st.tensors.get(projectionPrefix + 'weight');
  if (out.projection === undefined && out.llmDim === undefined && projection) {
    out.llmDim = projection.shape[0];
  }
  if (out.projection === undefined) out.projection = projection !== undefined || (out.llmDim !== undefined && out.llmDim !== out.width);
  if (out.projection && out.llmDim === undefined && projection) out.llmDim = projection.shape[0];
  return out;
}
