import type { MapperConfig } from './config.js';

/** A tensor on the host: row-major data and its shape. */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

/** One transformer block, in the layout the tfjs kernels want ([in, out] matrices). */
export interface LayerWeights<T> {
  norm1Gamma: T;
  norm1Beta: T;
  /** to_queries, [width, width] (columns head-major, as msclap reshapes them to [heads, headDim]). */
  query: T;
  /** The first half of to_keys_values' outputs (msclap reshapes them to [2, heads, headDim]). */
  key: T;
  /** The second half of to_keys_values' outputs. */
  value: T;
  project: T;
  projectBias: T;
  norm2Gamma: T;
  norm2Beta: T;
  fc1: T;
  fc1Bias: T;
  fc2: T;
  fc2Bias: T;
}

export interface MapperWeights<T> {
  /**
   * [clipLength * width, clapDim]: PyTorch's [out, in], unlike the other matrices. It multiplies as
   * the left operand (see linearConstantInput), so the wasm kernel never packs or caches a copy of
   * this largest weight (126 MB at paper size) and never repacks it after an optimiser step.
   */
  linear: T;
  linearBias: T;
  /** [prefixLength, width]. */
  prefixConst: T;
  layers: LayerWeights<T>[];
  /** [width, llmDim], only with the output projection. */
  projection?: T;
  projectionBias?: T;
}

/** PyTorch's name and shape for every tensor of a mapper, in state_dict order (names without prefix). */
export function pytorchTensorSpecs(config: MapperConfig): { name: string; shape: number[]; projection: boolean }[] {
  const { width: c, hidden, clapDim, clipLength, prefixLength } = config;
  const specs: { name: string; shape: number[]; projection: boolean }[] = [];
  const add = (name: string, shape: number[], projection = false) => specs.push({ name, shape, projection });
  add('prefix_const', [prefixLength, c]);
  for (let i = 0; i < config.layers; i++) {
    const p = `transformer.layers.${i}.`;
    add(`${p}norm1.weight`, [c]);
    add(`${p}norm1.bias`, [c]);
    add(`${p}attn.to_queries.weight`, [c, c]);
    add(`${p}attn.to_keys_values.weight`, [2 * c, c]);
    add(`${p}attn.project.weight`, [c, c]);
    add(`${p}attn.project.bias`, [c]);
    add(`${p}norm2.weight`, [c]);
    add(`${p}norm2.bias`, [c]);
    add(`${p}mlp.fc1.weight`, [hidden, c]);
    add(`${p}mlp.fc1.bias`, [hidden]);
    add(`${p}mlp.fc2.weight`, [c, hidden]);
    add(`${p}mlp.fc2.bias`, [c]);
  }
  add('linear.weight', [clipLength * c, clapDim]);
  add('linear.bias', [clipLength * c]);
  if (config.projection) {
    add('weight', [config.outDim, c], true);
    add('bias', [config.outDim], true);
  }
  return specs;
}

/** Transposes a row-major [rows, cols] matrix. */
export function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let k = 0; k < cols; k++) out[k * rows + r] = data[base + k];
  }
  return out;
}

/** A PyTorch Linear weight [out, in] in the kernels' layout [in, out]. */
function linearIn(data: Float32Array, out: number, inDim: number): HostTensor {
  return { shape: [inDim, out], data: transpose2d(data, out, inDim) };
}

const vec = (data: Float32Array): HostTensor => ({ shape: [data.length], data });

/**
 * Builds the internal weights from PyTorch-named tensors. `get(name)` returns the tensor named
 * `name` (as in pytorchTensorSpecs) in PyTorch layout, already checked against its spec's shape.
 */
export function fromPytorch(config: MapperConfig, get: (name: string) => Float32Array): MapperWeights<HostTensor> {
  const { width: c, hidden, clapDim, clipLength, prefixLength } = config;
  const layers: LayerWeights<HostTensor>[] = [];
  for (let i = 0; i < config.layers; i++) {
    const p = `transformer.layers.${i}.`;
    const kv = get(`${p}attn.to_keys_values.weight`);
    layers.push({
      norm1Gamma: vec(get(`${p}norm1.weight`)),
      norm1Beta: vec(get(`${p}norm1.bias`)),
      query: linearIn(get(`${p}attn.to_queries.weight`), c, c),
      key: linearIn(kv.subarray(0, c * c), c, c),
      value: linearIn(kv.subarray(c * c), c, c),
      project: linearIn(get(`${p}attn.project.weight`), c, c),
      projectBias: vec(get(`${p}attn.project.bias`)),
      norm2Gamma: vec(get(`${p}norm2.weight`)),
      norm2Beta: vec(get(`${p}norm2.bias`)),
      fc1: linearIn(get(`${p}mlp.fc1.weight`), hidden, c),
      fc1Bias: vec(get(`${p}mlp.fc1.bias`)),
      fc2: linearIn(get(`${p}mlp.fc2.weight`), c, hidden),
      fc2Bias: vec(get(`${p}mlp.fc2.bias`)),
    });
  }
  const weights: MapperWeights<HostTensor> = {
    linear: { shape: [clipLength * c, clapDim], data: get('linear.weight') },
    linearBias: vec(get('linear.bias')),
    prefixConst: { shape: [prefixLength, c], data: get('prefix_const') },
    layers,
  };
  if (config.projection) {
    weights.projection = linearIn(get('weight'), config.outDim, c);
    weights.projectionBias = vec(get('bias'));
  }
  return weights;
}

/** The inverse of fromPytorch: PyTorch names (projection tensors as `weight`/`bias`) and layout. */
export function toPytorch(config: MapperConfig, w: MapperWeights<Float32Array>): Map<string, Float32Array> {
  const { width: c, hidden } = config;
  const out = new Map<string, Float32Array>();
  out.set('prefix_const', w.prefixConst);
  w.layers.forEach((layer, i) => {
    const p = `transformer.layers.${i}.`;
    const kv = new Float32Array(2 * c * c);
    kv.set(transpose2d(layer.key, c, c), 0);
    kv.set(transpose2d(layer.value, c, c), c * c);
    out.set(`${p}norm1.weight`, layer.norm1Gamma);
    out.set(`${p}norm1.bias`, layer.norm1Beta);
    out.set(`${p}attn.to_queries.weight`, transpose2d(layer.query, c, c));
    out.set(`${p}attn.to_keys_values.weight`, kv);
    out.set(`${p}attn.project.weight`, transpose2d(layer.project, c, c));
    out.set(`${p}attn.project.bias`, layer.projectBias);
    out.set(`${p}norm2.weight`, layer.norm2Gamma);
    out.set(`${p}norm2.bias`, layer.norm2Beta);
    out.set(`${p}mlp.fc1.weight`, transpose2d(layer.fc1, c, hidden));
    out.set(`${p}mlp.fc1.bias`, layer.fc1Bias);
    out.set(`${p}mlp.fc2.weight`, transpose2d(layer.fc2, hidden, c));
    out.set(`${p}mlp.fc2.bias`, layer.fc2Bias);
  });
  out.set('linear.weight', w.linear);
  out.set('linear.bias', w.linearBias);
  if (config.projection) {
    out.set('weight', transpose2d(w.projection as Float32Array, c, config.outDim));
    out.set('bias', w.projectionBias as Float32Array);
  }
  return out;
}

/** Applies `f` to every tensor of a MapperWeights, keeping the structure. */
export function mapWeights<A, B>(w: MapperWeights<A>, f: (t: A, name: string) => B): MapperWeights<B> {
  const layer = (l: LayerWeights<A>, i: number): LayerWeights<B> => {
    const out = {} as LayerWeights<B>;
    for (const key of Object.keys(l) as (keyof LayerWeights<A>)[]) out[key] = f(l[key], `layers.${i}.${key}`);
    return out;
  };
  const out: MapperWeights<B> = {
    linear: f(w.linear, 'linear'),
    linearBias: f(w.linearBias, 'linearBias'),
    prefixConst: f(w.prefixConst, 'prefixConst'),
    layers: w.layers.map(layer),
  };
  if (w.projection !== undefined) out.projection = f(w.projection, 'projection');
  if (w.projectionBias !== undefined) out.projectionBias = f(w.projectionBias, 'projectionBias');
  return out;
}

/** Every tensor of a MapperWeights, in a fixed order, with its internal name. */
export function flattenWeights<T>(w: MapperWeights<T>): { name: string; value: T }[] {
  const list: { name: string; value: T }[] = [];
  mapWeights(w, (value, name) => list.push({ name, value }));
  return list;
}
