/**
 * The tiny world CLAP's two encoders as ONNX graphs.
 *
 * Boundary: the audio graph takes **log-mel frames** [batch, frames, nMels], the output of
 * @mats/clap's TypeScript front end (prepare: mean downmix, resample, tile/crop; then LogMel), so
 * Node and the browser share that code and the graph holds only the network (mel normalisation,
 * strided convolution, frame MLP, pooling, projection head). The text graph takes the word ids and
 * attention mask of @mats/clap's WordTokenizer [batch, maxLength]. Both output raw (LayerNorm-scaled,
 * not unit-norm) embeddings [batch, dim], like TinyClap.embedAudio / embedText.
 */
import type { TinyClapConfig } from '@mats/clap';
import { Graph } from './graph.js';
import { EXPORT_OPSET, geluTanh, layerNorm, linear } from './ops.js';

export const CLAP_AUDIO_IO = { input: 'log_mel', output: 'audio_embedding' } as const;
export const CLAP_TEXT_IO = { inputIds: 'input_ids', attentionMask: 'attention_mask', output: 'text_embedding' } as const;

type Weights = Map<string, Float32Array>;

function getter(g: Graph, weights: Weights) {
  return (name: string, shape: number[], data?: Float32Array): string => {
    const t = data ?? weights.get(name);
    if (!t) throw new Error(`tiny CLAP export: missing tensor "${name}"`);
    const size = shape.reduce((a, b) => a * b, 1);
    if (t.length !== size) throw new Error(`tiny CLAP export: tensor "${name}" has ${t.length} values, expected ${size} for ${JSON.stringify(shape)}`);
    return g.initializer(name, 'float32', shape, t);
  };
}

/** tfjs conv filter [kernel, in, out] -> ONNX Conv weight [out, in, kernel]. */
function convWeight(filter: Float32Array, kernel: number, inC: number, outC: number): Float32Array {
  const out = new Float32Array(filter.length);
  for (let k = 0; k < kernel; k++) for (let i = 0; i < inC; i++) for (let o = 0; o < outC; o++) out[(o * inC + i) * kernel + k] = filter[(k * inC + i) * outC + o];
  return out;
}

/** msclap's projection head: linear1, GELU, linear2, residual, LayerNorm. */
function projectionHead(g: Graph, x: string, get: ReturnType<typeof getter>, prefix: string, inDim: number, dim: number): string {
  const e1 = linear(g, x, get(`${prefix}.linear1.weight`, [inDim, dim]));
  const e2 = linear(g, geluTanh(g, e1), get(`${prefix}.linear2.weight`, [dim, dim]));
  return layerNorm(g, g.op('Add', [e1, e2]), get(`${prefix}.layer_norm.weight`, [dim]), get(`${prefix}.layer_norm.bias`, [dim]), 1e-5);
}

/** Audio encoder for clips of `frames` log-mel frames (fixed by sampleRate x clipSeconds and the mel hop). */
export function tinyClapAudioGraph(config: TinyClapConfig, weights: Weights, frames: number): Graph {
  const { nMels } = config.mel;
  const { channels: ch, kernel: k } = config.audio;
  const g = new Graph('mats_tiny_clap_audio');
  const get = getter(g, weights);
  const mel = g.input(CLAP_AUDIO_IO.input, 'float32', ['batch', frames, nMels], 'log-mel frames from @mats/clap LogMel');
  const normed = g.op('Div', [g.op('Sub', [mel, get('audio.mel_mean', [nMels])]), get('audio.mel_std', [nMels])]);
  // Strided convolution: output frame t covers input frames 2t - left .. 2t - left + k - 1, zeros
  // outside, ceil(frames / 2) outputs (see @mats/clap audioColumns).
  const left = Math.floor((k - 1) / 2);
  const outFrames = Math.ceil(frames / 2);
  const right = Math.max(0, 2 * (outFrames - 1) + k - frames - left);
  const filter = weights.get('audio.conv1.weight');
  if (!filter) throw new Error('tiny CLAP export: missing tensor "audio.conv1.weight"');
  const conv = g.op('Conv', [g.op('Transpose', [normed], { perm: { ints: [0, 2, 1] } }), get('audio.conv1.weight', [ch, nMels, k], convWeight(filter, k, nMels, ch)), get('audio.conv1.bias', [ch])], {
    kernel_shape: { ints: [k] },
    strides: { ints: [2] },
    pads: { ints: [left, right] },
  });
  const h1 = g.op('Transpose', [g.op('Relu', [conv])], { perm: { ints: [0, 2, 1] } }); // [B, T', ch]
  const h2 = g.op('Add', [g.op('Relu', [linear(g, h1, get('audio.frame_mlp.weight', [ch, ch]), get('audio.frame_mlp.bias', [ch]))]), h1]);
  const half = Math.floor(outFrames / 2);
  const meanOver = (x: string) => g.op('ReduceMean', [x], { axes: { ints: [1] }, keepdims: { int: 0 } });
  const slice = (start: number, end: number) => g.op('Slice', [h2, g.ints([start]), g.ints([end]), g.ints([1])]);
  const order = g.op('Sub', [meanOver(slice(0, half)), meanOver(slice(outFrames - half, outFrames))]);
  const mean = meanOver(h2);
  const variance = g.op('Relu', [g.op('Sub', [meanOver(g.op('Mul', [h2, h2])), g.op('Mul', [mean, mean])])]);
  const std = g.op('Sqrt', [g.op('Add', [variance, g.scalar(1e-6)])]);
  const pooled = g.op('Concat', [mean, std, order], { axis: { int: 1 } });
  const out = projectionHead(g, pooled, get, 'audio.projection', 3 * ch, config.dim);
  g.output(out, CLAP_AUDIO_IO.output, 'float32', ['batch', config.dim]);
  return g;
}

/** Text encoder over word ids and mask [batch, maxLength] (0 = pad). */
export function tinyClapTextGraph(config: TinyClapConfig, weights: Weights): Graph {
  const { width: w, maxLength: L, kernel: k } = config.text;
  const g = new Graph('mats_tiny_clap_text');
  const get = getter(g, weights);
  const ids = g.input(CLAP_TEXT_IO.inputIds, 'int64', ['batch', L], 'word ids of @mats/clap WordTokenizer, 0 = pad');
  const mask = g.input(CLAP_TEXT_IO.attentionMask, 'int64', ['batch', L], '1 for words, 0 for padding');
  const x = g.op('Add', [g.op('Gather', [get('text.embed.weight', [config.vocab.length, w]), ids], { axis: { int: 0 } }), get('text.pos', [L, w])]);
  const left = Math.floor((k - 1) / 2);
  const filter = weights.get('text.conv.weight');
  if (!filter) throw new Error('tiny CLAP export: missing tensor "text.conv.weight"');
  const conv = g.op('Conv', [g.op('Transpose', [x], { perm: { ints: [0, 2, 1] } }), get('text.conv.weight', [w, w, k], convWeight(filter, k, w, w)), get('text.conv.bias', [w])], {
    kernel_shape: { ints: [k] },
    strides: { ints: [1] },
    pads: { ints: [left, k - 1 - left] },
  });
  const h = g.op('Add', [g.op('Transpose', [g.op('Relu', [conv])], { perm: { ints: [0, 2, 1] } }), x]);
  const m = g.op('Unsqueeze', [g.op('Cast', [mask], { to: { int: 1 } }), g.ints([2])]); // [B, L, 1]
  const sumOver = (v: string) => g.op('ReduceSum', [v, g.ints([1])], { keepdims: { int: 0 } });
  const mean = g.op('Div', [sumOver(g.op('Mul', [h, m])), sumOver(m)]);
  const masked = g.op('Add', [h, g.op('Mul', [g.op('Sub', [m, g.scalar(1)]), g.scalar(1e9)])]);
  const max = g.op('ReduceMax', [masked], { axes: { ints: [1] }, keepdims: { int: 0 } });
  const out = projectionHead(g, g.op('Concat', [mean, max], { axis: { int: 1 } }), get, 'text.projection', 2 * w, config.dim);
  g.output(out, CLAP_TEXT_IO.output, 'float32', ['batch', config.dim]);
  return g;
}

export function exportTinyClapAudio(config: TinyClapConfig, weights: Weights, frames: number): Uint8Array {
  return tinyClapAudioGraph(config, weights, frames).toBytes({ opset: EXPORT_OPSET, doc: 'MATS tiny CLAP audio encoder (log-mel frames in), exported by @mats/model' });
}

export function exportTinyClapText(config: TinyClapConfig, weights: Weights): Uint8Array {
  return tinyClapTextGraph(config, weights).toBytes({ opset: EXPORT_OPSET, doc: 'MATS tiny CLAP text encoder (word ids in), exported by @mats/model' });
}
