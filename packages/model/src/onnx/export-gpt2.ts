/**
 * GPT-2 (Hugging Face layout, LoRA merged into the base weights) as an ONNX decoder with past
 * key/values, the contract of DECODER_IO. The token embeddings of `input_ids` are appended after
 * `inputs_embeds`, so one graph serves the prefill ([prefix embeddings][prompt ids]) and the cached
 * steps (no embeddings, one id per row); either input may have length 0. `logits` covers every
 * position when the input `num_logits_to_keep` is 0; N > 0 asks for the last N positions only,
 * which spares the vocabulary head on the prefill positions whose logits a generator never reads
 * (ONNX Runtime runs every node whatever the fetched outputs, so this must be an input).
 */
import type { Gpt2Config } from '@mats/llm-lora';
import { Graph } from './graph.js';
import { EXPORT_OPSET, attention, geluSigmoid, layerNorm, linear, mergeHeads, splitHeads } from './ops.js';

/** Input and output names of the exported decoder (the names Hugging Face / Optimum use). */
export const DECODER_IO = {
  inputIds: 'input_ids',
  inputsEmbeds: 'inputs_embeds',
  attentionMask: 'attention_mask',
  positionIds: 'position_ids',
  pastKey: (i: number) => `past_key_values.${i}.key`,
  pastValue: (i: number) => `past_key_values.${i}.value`,
  /** int64 [1]: logits for the last N positions only; 0 = every position. */
  numLogitsToKeep: 'num_logits_to_keep',
  logits: 'logits',
  presentKey: (i: number) => `present.${i}.key`,
  presentValue: (i: number) => `present.${i}.value`,
} as const;

/** Host copy of a tensor. */
export interface HostTensor {
  data: Float32Array;
  shape: number[];
}

/** Large negative bias on masked attention scores (the value @mats/llm-lora uses). */
const MASKED = -1e9;

/**
 * The decoder graph. `weights` maps HF names without `transformer.` (wte.weight, h.0.attn.c_attn.weight
 * [in, out], ...) to host tensors, as CausalLM.weights holds them.
 */
export function gpt2DecoderGraph(config: Gpt2Config, weights: Map<string, HostTensor>): Graph {
  const { nEmbd: C, nHead: H, nLayer, vocabSize: V, layerNormEpsilon: eps } = config;
  const D = C / H;
  const g = new Graph('mats_gpt2_decoder');
  const w = (name: string, shape: number[]): string => {
    const t = weights.get(name);
    if (!t) throw new Error(`GPT-2 export: missing tensor "${name}"`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) throw new Error(`GPT-2 export: tensor "${name}" has shape ${JSON.stringify(t.shape)}, expected ${JSON.stringify(shape)}`);
    return g.initializer(name, 'float32', shape, t.data);
  };

  const ids = g.input(DECODER_IO.inputIds, 'int64', ['batch', 'ids_length'], 'token ids appended after inputs_embeds');
  const embeds = g.input(DECODER_IO.inputsEmbeds, 'float32', ['batch', 'embeds_length', C], 'input embeddings (e.g. the mapper prefix), before the ids');
  const mask = g.input(DECODER_IO.attentionMask, 'int64', ['batch', 'total_length'], '1 = attend, 0 = padding; past + sequence positions');
  const positions = g.input(DECODER_IO.positionIds, 'int64', ['batch', 'sequence_length'], 'position of every input (embeds then ids)');
  const keep = g.input(DECODER_IO.numLogitsToKeep, 'int64', [1], 'logits for the last N positions only (0 = all)');
  const pastK: string[] = [];
  const pastV: string[] = [];
  for (let i = 0; i < nLayer; i++) {
    pastK.push(g.input(DECODER_IO.pastKey(i), 'float32', ['batch', H, 'past_length', D]));
    pastV.push(g.input(DECODER_IO.pastValue(i), 'float32', ['batch', H, 'past_length', D]));
  }

  const wte = w('wte.weight', [V, C]);
  const wpe = w('wpe.weight', [config.nPositions, C]);
  const x0 = g.op('Concat', [embeds, g.op('Gather', [wte, ids], { axis: { int: 0 } })], { axis: { int: 1 } });
  let h = g.op('Add', [x0, g.op('Gather', [wpe, positions], { axis: { int: 0 } })]);

  // Additive mask [B, 1, T, past + T]: 0 where key k may be seen by query q (k <= past + q and not
  // padding), MASKED elsewhere. Built once, shared by every layer.
  const seqLen = g.op('Shape', [x0], { start: { int: 1 }, end: { int: 2 } });
  const pastLen = g.op('Shape', [pastK[0]], { start: { int: 2 }, end: { int: 3 } });
  const total = g.op('Add', [pastLen, seqLen]);
  const scalarOf = (v: string) => g.op('Squeeze', [v, g.ints([0])]);
  const one = g.constant('int64', [], [1]);
  const keyIdx = g.op('Range', [g.constant('int64', [], [0]), scalarOf(total), one]);
  const queryIdx = g.op('Range', [scalarOf(pastLen), scalarOf(total), one]);
  const causal = g.op('LessOrEqual', [g.op('Unsqueeze', [keyIdx, g.ints([0])]), g.op('Unsqueeze', [queryIdx, g.ints([1])])]); // [T, total]
  const notPad = g.op('Unsqueeze', [g.op('Cast', [mask], { to: { int: 9 } }), g.ints([1, 2])]); // [B, 1, 1, total]
  const allowed = g.op('And', [notPad, causal]);
  const bias = g.op('Where', [allowed, g.scalar(0), g.scalar(MASKED)]);

  const scale = 1 / Math.sqrt(D);
  for (let i = 0; i < nLayer; i++) {
    const p = `h.${i}.`;
    const a = layerNorm(g, h, w(p + 'ln_1.weight', [C]), w(p + 'ln_1.bias', [C]), eps);
    const qkv = linear(g, a, w(p + 'attn.c_attn.weight', [C, 3 * C]), w(p + 'attn.c_attn.bias', [3 * C]));
    const [q, k, v] = g.node('Split', [qkv, g.ints([C, C, C])], { axis: { int: 2 } }, 3).map((t) => splitHeads(g, t, H, D));
    const kAll = g.op('Concat', [pastK[i], k], { axis: { int: 2 } }, DECODER_IO.presentKey(i));
    const vAll = g.op('Concat', [pastV[i], v], { axis: { int: 2 } }, DECODER_IO.presentValue(i));
    const ctx = mergeHeads(g, attention(g, q, kAll, vAll, scale, bias), C);
    h = g.op('Add', [h, linear(g, ctx, w(p + 'attn.c_proj.weight', [C, C]), w(p + 'attn.c_proj.bias', [C]))]);
    const m = layerNorm(g, h, w(p + 'ln_2.weight', [C]), w(p + 'ln_2.bias', [C]), eps);
    const fc = geluSigmoid(g, linear(g, m, w(p + 'mlp.c_fc.weight', [C, config.nInner]), w(p + 'mlp.c_fc.bias', [config.nInner])));
    h = g.op('Add', [h, linear(g, fc, w(p + 'mlp.c_proj.weight', [config.nInner, C]), w(p + 'mlp.c_proj.bias', [C]))]);
  }
  const hf = layerNorm(g, h, w('ln_f.weight', [C]), w('ln_f.bias', [C]), eps);
  // Tied head: logits = hidden @ wte^T, as Gemm with transB on the same initializer (no copy).
  // Positions -keep.. of the sequence: Slice with start -0 = 0 keeps them all.
  const kept = g.op('Slice', [hf, g.op('Neg', [keep]), g.ints([Number.MAX_SAFE_INTEGER]), g.ints([1])]);
  const flat = g.op('Reshape', [kept, g.ints([-1, C])]);
  const logits2d = g.op('Gemm', [flat, wte], { transB: { int: 1 } });
  const logitsShape = g.op('Concat', [g.op('Shape', [kept], { start: { int: 0 }, end: { int: 2 } }), g.ints([V])], { axis: { int: 0 } });
  const logits = g.op('Reshape', [logits2d, logitsShape]);
  g.output(logits, DECODER_IO.logits, 'float32', ['batch', 'logits_length', V]);
  for (let i = 0; i < nLayer; i++) {
    g.outputs.push({ name: DECODER_IO.presentKey(i), dtype: 'float32', shape: ['batch', H, 'total_length', D] });
    g.outputs.push({ name: DECODER_IO.presentValue(i), dtype: 'float32', shape: ['batch', H, 'total_length', D] });
  }
  return g;
}

/** .onnx bytes of the decoder. */
export function exportGpt2Decoder(config: Gpt2Config, weights: Map<string, HostTensor>, metadata: Record<string, string> = {}): Uint8Array {
  return gpt2DecoderGraph(config, weights).toBytes({ opset: EXPORT_OPSET, doc: 'GPT-2 decoder with past key/values (LoRA merged), exported by @mats/model', metadata });
}
