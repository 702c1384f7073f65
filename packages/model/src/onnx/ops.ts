/**
 * Building blocks shared by the exporters, each a few standard ONNX nodes (opset 17, default domain).
 */
import type { Graph } from './graph.js';

/** The opset the exporters write (LayerNormalization needs 17). */
export const EXPORT_OPSET = 17;

export function layerNorm(g: Graph, x: string, weight: string, bias: string, epsilon: number): string {
  return g.op('LayerNormalization', [x, weight, bias], { axis: { int: -1 }, epsilon: { float: epsilon } });
}

/** x @ w (+ b), w [in, out]; x of any rank. */
export function linear(g: Graph, x: string, weight: string, bias?: string): string {
  const y = g.op('MatMul', [x, weight]);
  return bias ? g.op('Add', [y, bias]) : y;
}

/**
 * GPT-2's tanh GELU written as x * sigmoid(C (x + A x^3)) with C = 2 sqrt(2 / pi) (the same
 * function, and the same arithmetic as @mats/llm-lora's geluNew).
 */
export function geluSigmoid(g: Graph, x: string): string {
  const c = 2 * Math.sqrt(2 / Math.PI);
  const a = 0.044715;
  const sq = g.op('Mul', [x, x]);
  const inner = g.op('Mul', [x, g.op('Add', [g.op('Mul', [sq, g.scalar(c * a)]), g.scalar(c)])]);
  return g.op('Mul', [x, g.op('Sigmoid', [inner])]);
}

/** 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))), as the tiny CLAP writes it. */
export function geluTanh(g: Graph, x: string): string {
  const cube = g.op('Mul', [g.op('Mul', [x, x]), x]);
  const inner = g.op('Mul', [g.op('Add', [x, g.op('Mul', [cube, g.scalar(0.044715)])]), g.scalar(Math.sqrt(2 / Math.PI))]);
  return g.op('Mul', [g.op('Mul', [x, g.scalar(0.5)]), g.op('Add', [g.op('Tanh', [inner]), g.scalar(1)])]);
}

/** [B, T, H * D] -> [B, H, T, D]. */
export function splitHeads(g: Graph, x: string, heads: number, headDim: number): string {
  const r = g.op('Reshape', [x, g.ints([0, 0, heads, headDim])]);
  return g.op('Transpose', [r], { perm: { ints: [0, 2, 1, 3] } });
}

/** [B, H, T, D] -> [B, T, H * D]. */
export function mergeHeads(g: Graph, x: string, width: number): string {
  const t = g.op('Transpose', [x], { perm: { ints: [0, 2, 1, 3] } });
  return g.op('Reshape', [t, g.ints([0, 0, width])]);
}

/** softmax(q k^T * scale (+ bias)) v for q [B, H, Tq, D], k and v [B, H, Tk, D]. */
export function attention(g: Graph, q: string, k: string, v: string, scale: number, bias?: string): string {
  const kT = g.op('Transpose', [k], { perm: { ints: [0, 1, 3, 2] } });
  let scores = g.op('Mul', [g.op('MatMul', [q, kT]), g.scalar(scale)]);
  if (bias) scores = g.op('Add', [scores, bias]);
  const probs = g.op('Softmax', [scores], { axis: { int: -1 } });
  return g.op('MatMul', [probs, v]);
}

/** Row-major transpose of a [rows, cols] matrix. */
export function transpose2d(src: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = src[i * cols + j];
  return out;
}
