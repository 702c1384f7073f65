/**
 * GPT-2 in tfjs, laid out like Hugging Face's GPT2LMHeadModel (Conv1D weights stored [in, out], so a
 * projection is a plain `x @ W + b` with no transpose), the LM head tied to `wte`.
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync, readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { assertFiniteTensors, ops, parseJson, readSafetensors, writeSafetensors, writeFileAtomic, type Rng, type SafetensorsFile, type TensorToWrite } from '@mats/core';
import { configFromHf, configToHf, type Gpt2Config } from './config.js';
import { loadTokenizer, type TextTokenizer } from './tokenizer.js';
import type { ForwardContext, ModuleHost, Projection } from './module.js';

/**
 * Hugging Face's Conv1D: x @ W + b with W [in, out]. A frozen W gets no gradient and is held once:
 * the input gradient's W^T is made inside the backward pass (core's ops.linear), or taken from the
 * model's transpose cache (small models, see CausalLM.transposeCacheMaxBytes).
 */
export class Conv1D implements Projection {
  constructor(
    readonly weight: tf.Variable, // [in, out]
    readonly bias: tf.Variable, // [out]
  ) {}

  apply(x2d: tf.Tensor2D, ctx?: ForwardContext): tf.Tensor2D {
    const frozen = !this.weight.trainable;
    return ops.linear(x2d, this.weight as tf.Tensor2D, this.bias as tf.Tensor1D, { frozen, weightT: frozen ? ctx?.transposeOf?.(this.weight) : null });
  }
}

export interface LayerNorm {
  weight: tf.Variable;
  bias: tf.Variable;
}

export interface Block {
  ln1: LayerNorm;
  cAttn: Projection;
  cProjAttn: Projection;
  ln2: LayerNorm;
  cFc: Projection;
  cProjMlp: Projection;
}

/** Keys and values of earlier positions, per layer, each [batch, heads, past, headDim]. */
export interface KvCache {
  keys: tf.Tensor4D[];
  values: tf.Tensor4D[];
  /** Number of cached positions. */
  length: number;
}

export interface ForwardOptions {
  /** [batch, seq] of 1 (attend) / 0 (padding). With a cache: [batch, past + seq]. Default all ones. */
  attentionMask?: number[][];
  /** Position ids [batch, seq]; default past..past+seq-1 for every row. */
  positions?: number[][];
  cache?: KvCache;
  /** Return the updated cache (inference only). */
  useCache?: boolean;
  training?: boolean;
  rng?: Rng;
}

export interface ForwardResult {
  /** Final hidden states after ln_f, [batch, seq, n_embd]. */
  hidden: tf.Tensor3D;
  cache?: KvCache;
}

/** Names of every base tensor (HF names, without `transformer.`), with their shapes. */
export function expectedTensors(config: Gpt2Config): Map<string, number[]> {
  const { vocabSize: V, nPositions: P, nEmbd: C, nInner: I } = config;
  const m = new Map<string, number[]>();
  m.set('wte.weight', [V, C]);
  m.set('wpe.weight', [P, C]);
  for (let i = 0; i < config.nLayer; i++) {
    const h = `h.${i}.`;
    m.set(h + 'ln_1.weight', [C]);
    m.set(h + 'ln_1.bias', [C]);
    m.set(h + 'attn.c_attn.weight', [C, 3 * C]);
    m.set(h + 'attn.c_attn.bias', [3 * C]);
    m.set(h + 'attn.c_proj.weight', [C, C]);
    m.set(h + 'attn.c_proj.bias', [C]);
    m.set(h + 'ln_2.weight', [C]);
    m.set(h + 'ln_2.bias', [C]);
    m.set(h + 'mlp.c_fc.weight', [C, I]);
    m.set(h + 'mlp.c_fc.bias', [I]);
    m.set(h + 'mlp.c_proj.weight', [I, C]);
    m.set(h + 'mlp.c_proj.bias', [C]);
  }
  m.set('ln_f.weight', [C]);
  m.set('ln_f.bias', [C]);
  return m;
}


function layerNorm(x: tf.Tensor2D, ln: LayerNorm, eps: number): tf.Tensor2D {
  return ops.layerNorm(x, ln.weight as tf.Tensor1D, ln.bias as tf.Tensor1D, eps, { trainable: ln.weight.trainable });
}

/** The projections of a block under their Hugging Face names (after `h.<i>.`). */
const BLOCK_MODULES: { key: 'cAttn' | 'cProjAttn' | 'cFc' | 'cProjMlp'; name: string }[] = [
  { key: 'cAttn', name: 'attn.c_attn' },
  { key: 'cProjAttn', name: 'attn.c_proj' },
  { key: 'cFc', name: 'mlp.c_fc' },
  { key: 'cProjMlp', name: 'mlp.c_proj' },
];

/**
 * The causal + padding mask as an additive bias [batch, 1, q, past + q]: 0 where a query may attend,
 * a large negative number elsewhere. Built once per forward on the CPU and shared by every layer.
 */
export function attentionBias(batch: number, queryLen: number, pastLen: number, mask?: number[][]): tf.Tensor4D {
  const keyLen = pastLen + queryLen;
  const data = new Float32Array(batch * queryLen * keyLen);
  for (let b = 0; b < batch; b++) {
    const row = mask?.[b];
    if (mask && (!row || row.length !== keyLen)) throw new Error(`attentionMask row ${b} has length ${row?.length}, expected ${keyLen} (past ${pastLen} + sequence ${queryLen})`);
    for (let q = 0; q < queryLen; q++) {
      const base = (b * queryLen + q) * keyLen;
      for (let k = 0; k < keyLen; k++) {
        const allowed = k <= pastLen + q && (!row || row[k] !== 0);
        data[base + k] = allowed ? 0 : -1e9;
      }
    }
  }
  return tf.tensor4d(data, [batch, 1, queryLen, keyLen]);
}

/** Default CausalLM.transposeCacheMaxBytes: the world GPT-2's projections (3 MiB) are cached, GPT-2 small's (340 MiB) are not. */
export const TRANSPOSE_CACHE_MAX_BYTES = 64 * 2 ** 20;

export class CausalLM implements ModuleHost {
  readonly blocks: Block[];
  readonly wte: tf.Variable;
  readonly wpe: tf.Variable;
  readonly lnF: LayerNorm;
  /** Every base tensor by HF name (without `transformer.`). */
  readonly weights: Map<string, tf.Variable>;
  /**
   * Training (forwardRows) keeps the transposes of the frozen projection weights for the backward
   * passes when all of them together take at most this many bytes: each step then skips one
   * transpose per projection and XNNPACK's repacking of it. Larger models (GPT-2 small: 340 MiB,
   * beside a 4 GB wasm heap) make each transpose inside the backward pass and free it there. 0
   * disables the cache.
   */
  transposeCacheMaxBytes = TRANSPOSE_CACHE_MAX_BYTES;
  /** Kept transposes by weight, with the data they were made from (an assign, e.g. mergeLora, makes them stale). */
  private readonly transposes = new Map<tf.Variable, { dataId: object; t: tf.Tensor2D }>();
  /** float32 bytes of the block projections' weights (what the transpose cache would hold). */
  private readonly projectionBytes: number;

  constructor(
    readonly config: Gpt2Config,
    readonly tokenizer: TextTokenizer | null,
    weights: Map<string, tf.Variable>,
  ) {
    this.weights = weights;
    const w = (name: string) => {
      const v = weights.get(name);
      if (!v) throw new Error(`GPT-2: missing tensor "${name}"`);
      return v;
    };
    this.wte = w('wte.weight');
    this.wpe = w('wpe.weight');
    this.lnF = { weight: w('ln_f.weight'), bias: w('ln_f.bias') };
    this.blocks = [];
    for (let i = 0; i < config.nLayer; i++) {
      const h = `h.${i}.`;
      this.blocks.push({
        ln1: { weight: w(h + 'ln_1.weight'), bias: w(h + 'ln_1.bias') },
        cAttn: new Conv1D(w(h + 'attn.c_attn.weight'), w(h + 'attn.c_attn.bias')),
        cProjAttn: new Conv1D(w(h + 'attn.c_proj.weight'), w(h + 'attn.c_proj.bias')),
        ln2: { weight: w(h + 'ln_2.weight'), bias: w(h + 'ln_2.bias') },
        cFc: new Conv1D(w(h + 'mlp.c_fc.weight'), w(h + 'mlp.c_fc.bias')),
        cProjMlp: new Conv1D(w(h + 'mlp.c_proj.weight'), w(h + 'mlp.c_proj.bias')),
      });
    }
    this.projectionBytes = this.blocks.reduce((n, b) => n + 4 * [b.cAttn, b.cProjAttn, b.cFc, b.cProjMlp].reduce((m, p) => m + (p as Conv1D).weight.size, 0), 0);
  }

  /**
   * Every projection under its Hugging Face name without `transformer.` (`h.0.attn.c_attn`,
   * `h.0.attn.c_proj`, `h.0.mlp.c_fc`, `h.0.mlp.c_proj`, ...), in layer order: what PEFT's
   * target_modules are matched against.
   */
  namedModules(): [string, Projection][] {
    const out: [string, Projection][] = [];
    this.blocks.forEach((block, i) => {
      for (const m of BLOCK_MODULES) out.push([`h.${i}.${m.name}`, block[m.key]]);
    });
    return out;
  }

  /** Replaces the projection named as in namedModules() (e.g. by a LoRA wrapper, or back). */
  setModule(name: string, module: Projection): void {
    const m = /^h\.(\d+)\.(.+)$/.exec(name);
    const entry = m ? BLOCK_MODULES.find((e) => e.name === m[2]) : undefined;
    const block = m ? this.blocks[Number(m[1])] : undefined;
    if (!entry || !block) throw new Error(`setModule: no module "${name}" (expected h.<0..${this.blocks.length - 1}>.{${BLOCK_MODULES.map((e) => e.name).join(',')}})`);
    block[entry.key] = module;
  }

  /** Token embeddings [batch, seq, n_embd] of the frozen table (a gather, outside any gradient path). */
  embedTokens(ids: number[][]): tf.Tensor3D {
    const batch = ids.length;
    const seq = batch ? ids[0].length : 0;
    const flat = new Int32Array(batch * seq);
    ids.forEach((row, b) => {
      if (row.length !== seq) throw new Error(`embedTokens: row ${b} has ${row.length} ids, expected ${seq} (pad rows to one length)`);
      row.forEach((id, t) => {
        if (!Number.isInteger(id) || id < 0 || id >= this.config.vocabSize) throw new Error(`embedTokens: id ${id} at [${b}, ${t}] is outside the vocabulary [0, ${this.config.vocabSize})`);
        flat[b * seq + t] = id;
      });
    });
    return tf.tidy(() => tf.reshape(tf.gather(this.wte, tf.tensor1d(flat, 'int32')), [batch, seq, this.config.nEmbd]));
  }

  /**
   * The transformer on input embeddings [batch, seq, n_embd] (token embeddings, possibly with a
   * mapper prefix concatenated in front). Returns the hidden states after ln_f.
   */
  forward(inputEmbeds: tf.Tensor3D, options: ForwardOptions = {}): ForwardResult {
    const { nEmbd: C, nHead: H, nPositions } = this.config;
    const [B, T, width] = inputEmbeds.shape;
    if (width !== C) throw new Error(`forward: input embeddings have width ${width}, expected n_embd ${C}`);
    const past = options.cache?.length ?? 0;
    if (past + T > nPositions) throw new Error(`forward: sequence of ${past + T} positions exceeds n_positions ${nPositions}`);
    const D = C / H;
    const ctx: ForwardContext = { training: options.training ?? false, rng: options.rng };
    const newKeys: tf.Tensor4D[] = [];
    const newValues: tf.Tensor4D[] = [];
    const hidden = tf.tidy(() => {
      const bias = attentionBias(B, T, past, options.attentionMask);
      let x: tf.Tensor2D;
      const posEmb = this.positionEmbeddings(B, T, past, options.positions);
      x = tf.reshape(tf.add(inputEmbeds, posEmb), [B * T, C]);
      const scale = 1 / Math.sqrt(D);
      this.blocks.forEach((block, layer) => {
        const a = layerNorm(x, block.ln1, this.config.layerNormEpsilon);
        const qkv = block.cAttn.apply(a, ctx); // [B*T, 3C]
        let context: tf.Tensor2D;
        if (!options.cache && !options.useCache) {
          // No cache (training, scoring): attention straight on the rows (core's attentionRows).
          const [q, k, v] = tf.split(qkv, 3, 1) as tf.Tensor2D[];
          context = ops.attentionRows(q, k, v, B, H, { bias, scale });
        } else {
          // Three [B*T, C] column blocks, each to [B, H, T, D] (three 4-D transposes are much cheaper
          // on wasm than one 5-D transpose of the whole qkv).
          const [q0, k0, v0] = tf.split(qkv, 3, 1).map((part) => tf.transpose(tf.reshape(part, [B, T, H, D]), [0, 2, 1, 3]) as tf.Tensor4D);
          let k = k0;
          let v = v0;
          if (options.cache) {
            k = tf.concat([options.cache.keys[layer], k0], 2);
            v = tf.concat([options.cache.values[layer], v0], 2);
          }
          if (options.useCache) {
            newKeys.push(tf.keep(k));
            newValues.push(tf.keep(v));
          }
          context = ops.mergeHeads(ops.attention(q0, k, v, { bias, scale })); // [B*T, C]
        }
        x = ops.residualAdd(x, block.cProjAttn.apply(context, ctx));
        const m = layerNorm(x, block.ln2, this.config.layerNormEpsilon);
        x = ops.residualAdd(x, block.cProjMlp.apply(ops.geluNew(block.cFc.apply(m, ctx)), ctx));
      });
      return tf.reshape(layerNorm(x, this.lnF, this.config.layerNormEpsilon), [B, T, C]) as tf.Tensor3D;
    });
    const result: ForwardResult = { hidden };
    if (options.useCache) result.cache = { keys: newKeys, values: newValues, length: past + T };
    return result;
  }

  /**
   * The transformer for training on right-padded rows: input embeddings [batch, seq, n_embd] with
   * their attentionMask (1 = real, 0 = padding, padding only at the end of a row), and the positions
   * whose final hidden state is wanted, as indices into the flattened [batch * seq] layout (the ones
   * that predict a scored token). Projections, LayerNorms and MLPs run on the real positions only
   * (ops.packRows); attention unpacks them into the padded layout and packs its output back. The
   * last block computes its attention output and MLP for `outputRows` only (its keys and values
   * still come from every position). Returns the hidden states after ln_f,
   * [outputRows.length, n_embd], in the order of `outputRows`: the values `forward` gives there.
   */
  forwardRows(inputEmbeds: tf.Tensor3D, attentionMask: number[][], outputRows: Int32Array, options: { training?: boolean; rng?: Rng } = {}): tf.Tensor2D {
    const { nEmbd: C, nHead: H, nPositions } = this.config;
    const [B, T, width] = inputEmbeds.shape;
    if (width !== C) throw new Error(`forwardRows: input embeddings have width ${width}, expected n_embd ${C}`);
    if (T > nPositions) throw new Error(`forwardRows: sequence of ${T} positions exceeds n_positions ${nPositions}`);
    if (attentionMask.length !== B) throw new Error(`forwardRows: attentionMask has ${attentionMask.length} rows, expected ${B}`);
    const lengths = attentionMask.map((row, b) => {
      if (row.length !== T) throw new Error(`forwardRows: attentionMask row ${b} has length ${row.length}, expected ${T}`);
      const len = row.indexOf(0) < 0 ? T : row.indexOf(0);
      if (len === 0 || row.slice(len).some((m) => m !== 0)) throw new Error(`forwardRows: attentionMask row ${b} is not right-padded (ones, then zeros)`);
      return len;
    });
    const starts = lengths.map((_, b) => lengths.slice(0, b).reduce((a, n) => a + n, 0));
    // Where each output row sits among the packed rows.
    const outPacked = Int32Array.from(outputRows, (r, i) => {
      const b = Math.floor(r / T);
      const t = r - b * T;
      if (!(r >= 0 && b < B && t < lengths[b])) throw new Error(`forwardRows: output row ${i} (${r}) is not a real position of the [${B}, ${T}] batch`);
      return starts[b] + t;
    });
    const scale = 1 / Math.sqrt(C / H);
    const ctx: ForwardContext = { training: options.training ?? false, rng: options.rng, transposeOf: (w) => this.transposeOf(w) };
    return tf.tidy(() => {
      const bias = attentionBias(B, T, 0, attentionMask);
      const padded = tf.reshape(tf.add(inputEmbeds, this.positionEmbeddings(B, T, 0)), [B * T, C]) as tf.Tensor2D;
      let x = ops.packRows(padded, lengths, T);
      this.blocks.forEach((block, layer) => {
        const last = layer === this.blocks.length - 1;
        const a = layerNorm(x, block.ln1, this.config.layerNormEpsilon);
        const qkv = ops.unpackRows(block.cAttn.apply(a, ctx), lengths, T); // [B*T, 3C], zero padding
        const [q, k, v] = tf.split(qkv, 3, 1) as tf.Tensor2D[];
        const attended = ops.attentionRows(q, k, v, B, H, { bias, scale });
        let context: tf.Tensor2D;
        if (last) {
          context = ops.gatherRows(attended, outputRows);
          x = ops.gatherRows(x, outPacked);
        } else {
          context = ops.packRows(attended, lengths, T);
        }
        x = ops.residualAdd(x, block.cProjAttn.apply(context, ctx));
        const m = layerNorm(x, block.ln2, this.config.layerNormEpsilon);
        x = ops.residualAdd(x, block.cProjMlp.apply(ops.geluNew(block.cFc.apply(m, ctx)), ctx));
      });
      return layerNorm(x, this.lnF, this.config.layerNormEpsilon);
    });
  }

  private positionEmbeddings(B: number, T: number, past: number, positions?: number[][]): tf.Tensor {
    if (!positions) return tf.slice(this.wpe, [past, 0], [T, this.config.nEmbd]); // broadcast over batch
    const flat = new Int32Array(B * T);
    positions.forEach((row, b) => row.forEach((p, t) => (flat[b * T + t] = p)));
    return tf.reshape(tf.gather(this.wpe, tf.tensor1d(flat, 'int32')), [B, T, this.config.nEmbd]);
  }

  /**
   * Logits of the tied LM head: hidden [..., n_embd] -> [..., vocab], h . wte^T computed without a
   * transposed copy of wte (core's ops.tiedHeadLogits); wte gets a gradient only when trainable.
   */
  lmHead(hidden: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const shape = hidden.shape;
      const flat = tf.reshape(hidden, [-1, this.config.nEmbd]) as tf.Tensor2D;
      const logits = ops.tiedHeadLogits(flat, this.wte as tf.Tensor2D, { frozen: !this.wte.trainable });
      return tf.reshape(logits, [...shape.slice(0, -1), this.config.vocabSize]);
    });
  }

  /** Logits for token ids (all rows the same length); attentionMask for padded rows. */
  async logits(inputIds: number[][], attentionMask?: number[][]): Promise<{ data: Float32Array; shape: [number, number, number] }> {
    const out = tf.tidy(() => {
      const emb = this.embedTokens(inputIds);
      const { hidden } = this.forward(emb, { attentionMask });
      return this.lmHead(hidden);
    });
    const data = (await out.data()) as Float32Array;
    const shape = out.shape as [number, number, number];
    out.dispose();
    return { data, shape };
  }

  /** Every base tensor's values under its HF name (for saving). */
  async stateDict(): Promise<Map<string, TensorToWrite>> {
    const out = new Map<string, TensorToWrite>();
    for (const [name, v] of this.weights) out.set(name, { data: (await v.data()) as Float32Array, shape: v.shape });
    return out;
  }

  /** The cached transpose of a frozen projection weight, or null when the cache is off or too small (see transposeCacheMaxBytes). */
  private transposeOf(weight: tf.Variable): tf.Tensor2D | null {
    if (weight.trainable) return null;
    if (this.projectionBytes > this.transposeCacheMaxBytes) return null;
    const cached = this.transposes.get(weight);
    if (cached && cached.dataId === weight.dataId) return cached.t;
    cached?.t.dispose();
    const t = tf.keep(tf.transpose(weight as tf.Tensor2D));
    this.transposes.set(weight, { dataId: weight.dataId, t });
    return t;
  }

  /** Frees the cached transposes (the next training step makes them again if the cache is on). */
  releaseTransposes(): void {
    for (const { t } of this.transposes.values()) t.dispose();
    this.transposes.clear();
  }

  /** Frees every base tensor of the model (an adapter's own tensors are freed by adapter.dispose()). */
  dispose(): void {
    this.releaseTransposes();
    for (const v of this.weights.values()) v.dispose();
  }
}

/** Writes config.json + model.safetensors (HF names without prefix) [+ tokenizer.json]. */
export async function saveCausalLM(model: CausalLM, dir: string, tokenizerJson?: Record<string, unknown>): Promise<void> {
  mkdirSync(dir, { recursive: true });
  writeFileAtomic(join(dir, 'config.json'), JSON.stringify(configToHf(model.config), null, 2) + '\n');
  writeSafetensors(join(dir, 'model.safetensors'), await model.stateDict(), { format: 'pt' });
  if (tokenizerJson) writeFileAtomic(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson) + '\n');
}

/** A variable from host data; the temporary tensor it is made from is disposed (the data is held once). */
function variableFrom(data: Float32Array, shape: number[], trainable: boolean): tf.Variable {
  const t = tf.tensor(data, shape);
  const v = tf.variable(t, trainable);
  t.dispose();
  return v;
}

/** The names' prefix used by a checkpoint: `transformer.` (GPT2LMHeadModel) or none (GPT2Model). */
function detectPrefix(file: SafetensorsFile): string {
  if (file.tensors.has('transformer.wte.weight')) return 'transformer.';
  return '';
}

/** Builds the model's variables from a safetensors file, checking every name and shape against the config. */
export function weightsFromSafetensors(config: Gpt2Config, file: SafetensorsFile, source: string): Map<string, tf.Variable> {
  const prefix = detectPrefix(file);
  const wte = file.tensors.get(prefix + 'wte.weight');
  // Check the config against the embedding tables first, so a wrong config names the field.
  if (wte && wte.shape.length === 2) {
    if (wte.shape[0] !== config.vocabSize) throw new Error(`${source}: config vocab_size is ${config.vocabSize} but tensor "${prefix}wte.weight" has ${wte.shape[0]} rows`);
    if (wte.shape[1] !== config.nEmbd) throw new Error(`${source}: config n_embd is ${config.nEmbd} but tensor "${prefix}wte.weight" has width ${wte.shape[1]}`);
  }
  const wpe = file.tensors.get(prefix + 'wpe.weight');
  if (wpe && wpe.shape.length === 2 && wpe.shape[0] !== config.nPositions) {
    throw new Error(`${source}: config n_positions is ${config.nPositions} but tensor "${prefix}wpe.weight" has ${wpe.shape[0]} rows`);
  }
  const layerInFile = new Set<number>();
  for (const name of file.tensors.keys()) {
    const m = /^(?:transformer\.)?h\.(\d+)\./.exec(name);
    if (m) layerInFile.add(Number(m[1]));
  }
  if (layerInFile.size > 0 && Math.max(...layerInFile) + 1 !== config.nLayer) {
    throw new Error(`${source}: config n_layer is ${config.nLayer} but the file has ${Math.max(...layerInFile) + 1} layers (h.0 .. h.${Math.max(...layerInFile)})`);
  }
  const weights = new Map<string, tf.Variable>();
  try {
    for (const [name, shape] of expectedTensors(config)) {
      const t = file.tensors.get(prefix + name);
      if (!t) throw new Error(`${source}: missing tensor "${prefix + name}" (expected shape ${JSON.stringify(shape)})`);
      if (!(t.data instanceof Float32Array)) throw new Error(`${source}: tensor "${prefix + name}" has dtype ${t.dtype}, expected a floating-point dtype`);
      if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
        throw new Error(`${source}: tensor "${prefix + name}" has shape ${JSON.stringify(t.shape)}, expected ${JSON.stringify(shape)}`);
      }
      weights.set(name, variableFrom(t.data, shape, false));
    }
  } catch (err) {
    for (const v of weights.values()) v.dispose();
    throw err;
  }
  return weights;
}

/**
 * Loads a Hugging Face GPT-2 folder: config.json, model.safetensors (names with or without
 * `transformer.`; `lm_head.weight` is ignored because the head is tied), tokenizer.json or GPT-2 BPE.
 * Base weights are frozen (non-trainable variables).
 */
export function loadCausalLM(dir: string): CausalLM {
  const configPath = join(dir, 'config.json');
  if (!existsSync(configPath)) throw new Error(`${dir}: no config.json (expected a Hugging Face GPT-2 folder)`);
  let json: Record<string, unknown>;
  try {
    json = parseJson(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${configPath}: not valid JSON (${(err as Error).message})`);
  }
  const config = configFromHf(json, configPath);
  const weightsPath = join(dir, 'model.safetensors');
  if (!existsSync(weightsPath)) throw new Error(`${dir}: no model.safetensors`);
  const tokenizer = loadTokenizer(dir);
  if (tokenizer.vocabSize > config.vocabSize) throw new Error(`${dir}: the tokenizer has ${tokenizer.vocabSize} tokens but config vocab_size is ${config.vocabSize}`);
  const file = readSafetensors(weightsPath);
  assertFiniteTensors(file, weightsPath);
  const weights = weightsFromSafetensors(config, file, weightsPath);
  return new CausalLM(config, tokenizer, weights);
}

/**
 * A fresh GPT-2 initialised as Hugging Face does: N(0, 0.02) weights, zero biases, unit LayerNorm,
 * and the residual output projections (c_proj) at N(0, 0.02 / sqrt(2 * n_layer)).
 */
export function createCausalLM(config: Gpt2Config, rng: Rng, tokenizer: TextTokenizer | null = null, trainable = false): CausalLM {
  const weights = new Map<string, tf.Variable>();
  for (const [name, shape] of expectedTensors(config)) {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    if (name.endsWith('.bias')) {
      // zeros
    } else if (name.includes('ln_')) {
      data.fill(1);
    } else {
      const std = name.endsWith('c_proj.weight') ? 0.02 / Math.sqrt(2 * config.nLayer) : 0.02;
      rng.fillNormal(data, 0, std);
    }
    weights.set(name, variableFrom(data, shape, trainable));
  }
  return new CausalLM(config, tokenizer, weights);
}
