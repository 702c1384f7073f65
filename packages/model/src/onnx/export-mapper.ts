/**
 * The TransformerMapper as ONNX: `clap_embedding` [batch, clapDim] -> `prefix` [batch, P, outDim].
 * The input is L2-normalised inside the graph (x / max(|x|, 1e-12), as @mats/core's l2Normalize;
 * an all-zero row gives zeros here where l2Normalize throws), so callers pass raw or Santa output.
 */
import type { MapperConfig } from '@mats/mapper';
import { Graph } from './graph.js';
import { EXPORT_OPSET, attention, layerNorm, linear, mergeHeads, splitHeads, transpose2d } from './ops.js';

export const MAPPER_IO = { input: 'clap_embedding', output: 'prefix' } as const;

const LAYER_NORM_EPS = 1e-5;

/** `weights`: the mapper's getWeights() (PyTorch names and [out, in] layout; `projection.*` for the output projection). */
export function mapperGraph(config: MapperConfig, weights: Map<string, Float32Array>): Graph {
  const { clapDim, width: C, clipLength: L, prefixLength: P, heads: H, hidden, outDim } = config;
  const D = C / H;
  const g = new Graph('mats_mapper');
  const get = (name: string, size: number): Float32Array => {
    const t = weights.get(name);
    if (!t) throw new Error(`mapper export: missing tensor "${name}"`);
    if (t.length !== size) throw new Error(`mapper export: tensor "${name}" has ${t.length} values, expected ${size}`);
    return t;
  };
  /** A PyTorch Linear weight [out, in] stored as [in, out] for MatMul. */
  const linearIn = (name: string, out: number, inp: number) => g.initializer(name, 'float32', [inp, out], transpose2d(get(name, out * inp), out, inp));
  const vector = (name: string, n: number) => g.initializer(name, 'float32', [n], get(name, n));

  const x = g.input(MAPPER_IO.input, 'float32', ['batch', clapDim], 'CLAP embedding (any norm: normalised inside)');
  const norm = g.op('Max', [g.op('ReduceL2', [x], { axes: { ints: [1] }, keepdims: { int: 1 } }), g.scalar(1e-12)]);
  const xn = g.op('Div', [x, norm]);
  const clip = g.op('Gemm', [xn, g.initializer('linear.weight', 'float32', [L * C, clapDim], get('linear.weight', L * C * clapDim)), vector('linear.bias', L * C)], { transB: { int: 1 } });
  const clip3 = g.op('Reshape', [clip, g.ints([-1, L, C])]);
  const prefixConst = g.initializer('prefix_const', 'float32', [1, P, C], get('prefix_const', P * C));
  const queryShape = g.op('Concat', [g.op('Shape', [x], { start: { int: 0 }, end: { int: 1 } }), g.ints([P, C])], { axis: { int: 0 } });
  let h = g.op('Concat', [clip3, g.op('Expand', [prefixConst, queryShape])], { axis: { int: 1 } });

  for (let i = 0; i < config.layers; i++) {
    const p = `transformer.layers.${i}.`;
    const n1 = layerNorm(g, h, vector(p + 'norm1.weight', C), vector(p + 'norm1.bias', C), LAYER_NORM_EPS);
    const q = splitHeads(g, linear(g, n1, linearIn(p + 'attn.to_queries.weight', C, C)), H, D);
    const kv = get(p + 'attn.to_keys_values.weight', 2 * C * C);
    const wk = g.initializer(p + 'attn.to_keys.weight_T', 'float32', [C, C], transpose2d(kv.subarray(0, C * C), C, C));
    const wv = g.initializer(p + 'attn.to_values.weight_T', 'float32', [C, C], transpose2d(kv.subarray(C * C), C, C));
    const k = splitHeads(g, linear(g, n1, wk), H, D);
    const v = splitHeads(g, linear(g, n1, wv), H, D);
    const ctx = mergeHeads(g, attention(g, q, k, v, 1 / Math.sqrt(D)), C);
    h = g.op('Add', [h, linear(g, ctx, linearIn(p + 'attn.project.weight', C, C), vector(p + 'attn.project.bias', C))]);
    const n2 = layerNorm(g, h, vector(p + 'norm2.weight', C), vector(p + 'norm2.bias', C), LAYER_NORM_EPS);
    const fc1 = g.op('Relu', [linear(g, n2, linearIn(p + 'mlp.fc1.weight', hidden, C), vector(p + 'mlp.fc1.bias', hidden))]);
    h = g.op('Add', [h, linear(g, fc1, linearIn(p + 'mlp.fc2.weight', C, hidden), vector(p + 'mlp.fc2.bias', C))]);
  }
  let out = g.op('Slice', [h, g.ints([L]), g.ints([L + P]), g.ints([1])]);
  if (config.projection) out = linear(g, out, linearIn('projection.weight', outDim, C), vector('projection.bias', outDim));
  g.output(out, MAPPER_IO.output, 'float32', ['batch', P, outDim]);
  return g;
}

export function exportMapper(config: MapperConfig, weights: Map<string, Float32Array>, metadata: Record<string, string> = {}): Uint8Array {
  return mapperGraph(config, weights).toBytes({ opset: EXPORT_OPSET, doc: 'MATS TransformerMapper (CLAP embedding -> LLM prefix), exported by @mats/model', metadata });
}
