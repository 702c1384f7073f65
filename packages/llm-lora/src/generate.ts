/**
 * Generation from `[prefix embeddings][prompt tokens]` with a KV cache: greedy or beam search,
 * no-repeat-ngram, repetition penalty, max new tokens, stop at eos.
 *
 * As in Hugging Face generate() called with `inputs_embeds`, the repetition penalty and the
 * no-repeat-ngram rule look at the generated tokens only. Both act on the logits (as HF's greedy
 * search does) before the log-softmax that beam search accumulates, so one beam equals greedy.
 * Beam search stops when `numBeams` hypotheses have ended (HF `early_stopping=True`); scores are
 * the summed log-probability divided by length ** lengthPenalty.
 */
import * as tf from '@tensorflow/tfjs';
import type { CausalLM, KvCache } from './gpt2.js';

export interface GenerateOptions {
  /** Default 200 (the paper's setting). */
  maxNewTokens?: number;
  /** 1 = greedy (default). The paper uses 4. */
  numBeams?: number;
  /** Forbid repeating any n-gram of this size (0 = off). The paper uses 2. */
  noRepeatNgramSize?: number;
  /** > 1 discourages tokens already generated (HF/CTRL rule). The paper uses 2.0. */
  repetitionPenalty?: number;
  /** Beam score = sum log p / length ** lengthPenalty (default 1). */
  lengthPenalty?: number;
  /** Stop token; default the model's eos. */
  eosId?: number;
}

export interface PrefixInput {
  /** [P, n_embd] row-major, or null for no prefix. */
  prefix: { data: Float32Array; shape: [number, number] } | tf.Tensor2D | null;
  /** Prompt token ids after the prefix (the instruction). */
  promptIds: number[];
}

export interface GenerateResult {
  /** New tokens, without the eos. */
  ids: number[];
  /** Whether generation stopped at eos (false: maxNewTokens reached). */
  finished: boolean;
  /** Summed log-probability (beam search) or null (greedy). */
  score: number | null;
}

/** Tokens that would complete an n-gram already present in `tokens`. */
export function bannedNgramTokens(tokens: number[], n: number): Set<number> {
  const banned = new Set<number>();
  if (n <= 0 || tokens.length < n - 1 || tokens.length === 0) return banned;
  if (n === 1) {
    for (const t of tokens) banned.add(t);
    return banned;
  }
  const tail = tokens.slice(tokens.length - (n - 1));
  for (let i = 0; i + n <= tokens.length; i++) {
    let match = true;
    for (let j = 0; j < n - 1; j++) if (tokens[i + j] !== tail[j]) { match = false; break; }
    if (match) banned.add(tokens[i + n - 1]);
  }
  return banned;
}

/** Applies repetition penalty and no-repeat-ngram in place to one row of logits. */
export function processLogits(logits: Float32Array, generated: number[], options: GenerateOptions): void {
  const penalty = options.repetitionPenalty ?? 1;
  if (penalty !== 1) {
    for (const t of new Set(generated)) logits[t] = logits[t] < 0 ? logits[t] * penalty : logits[t] / penalty;
  }
  const n = options.noRepeatNgramSize ?? 0;
  if (n > 0) for (const t of bannedNgramTokens(generated, n)) logits[t] = -Infinity;
}

function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

function logSoftmax(row: Float32Array): Float32Array {
  let max = -Infinity;
  for (const v of row) if (v > max) max = v;
  let sum = 0;
  for (const v of row) sum += Math.exp(v - max);
  const lse = max + Math.log(sum);
  const out = new Float32Array(row.length);
  for (let i = 0; i < row.length; i++) out[i] = row[i] - lse;
  return out;
}

/**
 * What batched generation needs from a decoder: the tfjs CausalLM below, or an ONNX Runtime session.
 * `P` is the decoder's prefix type (a tfjs tensor [rows, P, n_embd] here, host data elsewhere).
 */
export interface BatchDecoder<P> {
  readonly vocabSize: number;
  /**
   * Prefill: an optional prefix (the same number of positions for every row) then each row's prompt
   * ids. Rows may differ in length: padding sits between prefix and prompt, is masked out, and
   * position ids skip it, so every row sees exactly what it would see alone. Returns each row's
   * last-position logits, row-major [rows * vocab].
   */
  start(prefix: P | null, promptIds: number[][]): Promise<Float32Array>;
  /**
   * Row r of the new batch continues row parents[r] of the previous step with tokens[r] (beam
   * reordering and dropping finished rows are both expressed by `parents`). Returns [rows * vocab].
   */
  step(tokens: number[], parents: number[]): Promise<Float32Array>;
  /** Frees the cache. */
  end(): void;
}

/** tfjs CausalLM as a BatchDecoder: KV cache in tensors, one download of the logits per step. */
export class CausalLmDecoder implements BatchDecoder<tf.Tensor3D> {
  private cache: KvCache | null = null;
  /** Per live row: attention mask over the cached positions, and the next position id. */
  private masks: number[][] = [];
  private nextPosition: number[] = [];

  constructor(readonly model: CausalLM) {}

  get vocabSize(): number {
    return this.model.config.vocabSize;
  }

  async start(prefix: tf.Tensor3D | null, promptIds: number[][]): Promise<Float32Array> {
    this.end();
    const { nEmbd: C } = this.model.config;
    const B = promptIds.length;
    if (B === 0) throw new Error('generate: no rows to generate for');
    const P = prefix ? prefix.shape[1] : 0;
    if (prefix) {
      if (prefix.shape[2] !== C) throw new Error(`generate: prefix has width ${prefix.shape[2]}, expected n_embd ${C}`);
      if (prefix.shape[0] !== B) throw new Error(`generate: prefix has ${prefix.shape[0]} rows but ${B} prompts were given`);
    }
    const longest = Math.max(...promptIds.map((p) => p.length));
    if (P + longest === 0) throw new Error('generate: empty input (no prefix and no prompt ids)');
    const T = P + longest;
    const ids: number[][] = [];
    this.masks = [];
    this.nextPosition = [];
    const positions: number[][] = [];
    for (const prompt of promptIds) {
      const pad = longest - prompt.length;
      ids.push([...new Array(pad).fill(0), ...prompt]);
      this.masks.push([...new Array(P).fill(1), ...new Array(pad).fill(0), ...new Array(prompt.length).fill(1)]);
      const pos: number[] = [];
      for (let t = 0; t < P; t++) pos.push(t);
      for (let t = 0; t < pad; t++) pos.push(0);
      for (let t = 0; t < prompt.length; t++) pos.push(P + t);
      positions.push(pos);
      this.nextPosition.push(P + prompt.length);
    }
    let cache: KvCache | undefined;
    const logitsT = tf.tidy(() => {
      const parts: tf.Tensor3D[] = [];
      if (prefix) parts.push(prefix);
      if (longest > 0) parts.push(this.model.embedTokens(ids));
      const x = parts.length > 1 ? (tf.concat(parts, 1) as tf.Tensor3D) : parts[0];
      const out = this.model.forward(x, { useCache: true, attentionMask: this.masks, positions });
      cache = out.cache!;
      cache.keys.concat(cache.values).forEach((t) => tf.keep(t));
      return this.model.lmHead(tf.slice(out.hidden, [0, T - 1, 0], [B, 1, C]));
    });
    this.cache = cache!;
    return this.download(logitsT);
  }

  async step(tokens: number[], parents: number[]): Promise<Float32Array> {
    if (!this.cache) throw new Error('generate: step() before start()');
    if (tokens.length !== parents.length || tokens.length === 0) throw new Error(`generate: step got ${tokens.length} tokens for ${parents.length} parent rows`);
    const rows = this.masks.length;
    const identity = parents.length === rows && parents.every((p, i) => p === i);
    let cache = this.cache;
    if (!identity) {
      const idx = tf.tensor1d(parents, 'int32');
      cache = { keys: cache.keys.map((k) => tf.gather(k, idx, 0)), values: cache.values.map((v) => tf.gather(v, idx, 0)), length: cache.length };
      idx.dispose();
      disposeCache(this.cache);
      this.masks = parents.map((p) => this.masks[p]);
      this.nextPosition = parents.map((p) => this.nextPosition[p]);
    }
    this.masks = this.masks.map((m) => [...m, 1]);
    const positions = this.nextPosition.map((p) => [p]);
    this.nextPosition = this.nextPosition.map((p) => p + 1);
    let next: KvCache | undefined;
    const logitsT = tf.tidy(() => {
      const emb = this.model.embedTokens(tokens.map((t) => [t]));
      const out = this.model.forward(emb, { cache, useCache: true, attentionMask: this.masks, positions });
      next = out.cache!;
      return this.model.lmHead(out.hidden);
    });
    disposeCache(cache);
    this.cache = next!;
    return this.download(logitsT);
  }

  end(): void {
    if (this.cache) disposeCache(this.cache);
    this.cache = null;
    this.masks = [];
    this.nextPosition = [];
  }

  private async download(logitsT: tf.Tensor): Promise<Float32Array> {
    try {
      return new Float32Array((await logitsT.data()) as Float32Array);
    } finally {
      logitsT.dispose();
    }
  }
}

function disposeCache(cache: KvCache): void {
  tf.dispose([...cache.keys, ...cache.values]);
}

export interface BatchGenerateOptions extends GenerateOptions {
  /** Stop token (required: a decoder does not know its tokenizer). */
  eosId: number;
}

function checkOptions(options: GenerateOptions): { numBeams: number; maxNew: number } {
  const numBeams = options.numBeams ?? 1;
  if (!Number.isInteger(numBeams) || numBeams < 1) throw new Error(`generate: numBeams must be a positive integer, got ${numBeams}`);
  const maxNew = options.maxNewTokens ?? 200;
  if (!Number.isInteger(maxNew) || maxNew < 1) throw new Error(`generate: maxNewTokens must be a positive integer, got ${maxNew}`);
  if ((options.repetitionPenalty ?? 1) <= 0) throw new Error(`generate: repetitionPenalty must be > 0, got ${options.repetitionPenalty}`);
  return { numBeams, maxNew };
}

/**
 * Greedy or beam-search generation for a batch of rows (one result per row, in order). Each row is
 * decoded exactly as it would be alone; rows that finish leave the batch.
 */
export async function generateBatch<P>(decoder: BatchDecoder<P>, prefix: P | null, promptIds: number[][], options: BatchGenerateOptions): Promise<GenerateResult[]> {
  const { numBeams, maxNew } = checkOptions(options);
  try {
    const first = await decoder.start(prefix, promptIds);
    return numBeams === 1 ? await greedy(decoder, first, promptIds.length, options, maxNew) : await beamSearch(decoder, first, promptIds.length, options, maxNew, numBeams);
  } finally {
    decoder.end();
  }
}

async function greedy<P>(decoder: BatchDecoder<P>, first: Float32Array, rows: number, options: BatchGenerateOptions, maxNew: number): Promise<GenerateResult[]> {
  const V = decoder.vocabSize;
  const results: GenerateResult[] = Array.from({ length: rows }, () => ({ ids: [], finished: false, score: null }));
  let live = results.map((_, i) => i); // item of each decoder row
  let logits = first;
  for (let i = 0; i < maxNew && live.length > 0; i++) {
    const tokens: number[] = [];
    const parents: number[] = [];
    const nextLive: number[] = [];
    live.forEach((item, r) => {
      const row = logits.subarray(r * V, (r + 1) * V);
      const result = results[item];
      processLogits(row, result.ids, options);
      const token = argmax(row);
      if (token === options.eosId) {
        result.finished = true;
        return;
      }
      result.ids.push(token);
      tokens.push(token);
      parents.push(r);
      nextLive.push(item);
    });
    live = nextLive;
    if (live.length === 0 || i === maxNew - 1) break;
    logits = await decoder.step(tokens, parents);
  }
  return results;
}

interface Beam {
  ids: number[];
  score: number;
}

interface BeamItem {
  beams: Beam[];
  /** Decoder row of each beam in the current batch. */
  rows: number[];
  done: { ids: number[]; score: number; normalized: number }[];
  open: boolean;
}

async function beamSearch<P>(decoder: BatchDecoder<P>, first: Float32Array, count: number, options: BatchGenerateOptions, maxNew: number, numBeams: number): Promise<GenerateResult[]> {
  const V = decoder.vocabSize;
  const lp = options.lengthPenalty ?? 1;
  const keep = 2 * numBeams;
  const items: BeamItem[] = Array.from({ length: count }, (_, i) => ({ beams: [{ ids: [], score: 0 }], rows: [i], done: [], open: true }));
  let logits = first;
  for (let i = 0; i < maxNew; i++) {
    const tokens: number[] = [];
    const parents: number[] = [];
    for (const item of items) {
      if (!item.open) continue;
      // Candidates over every beam x token, best 2 * numBeams kept (enough to survive eos endings).
      const candidates: { beam: number; token: number; score: number }[] = [];
      item.beams.forEach((beam, b) => {
        const row = logits.subarray(item.rows[b] * V, (item.rows[b] + 1) * V);
        processLogits(row, beam.ids, options);
        const logp = logSoftmax(row);
        for (let t = 0; t < V; t++) {
          const s = beam.score + logp[t];
          if (s === -Infinity || Number.isNaN(s)) continue;
          if (candidates.length < keep) {
            candidates.push({ beam: b, token: t, score: s });
            if (candidates.length === keep) candidates.sort((x, y) => y.score - x.score);
          } else if (s > candidates[keep - 1].score) {
            // insert keeping descending order (ties keep the earlier beam/token first)
            let k = keep - 1;
            while (k > 0 && candidates[k - 1].score < s) k--;
            candidates.splice(k, 0, { beam: b, token: t, score: s });
            candidates.pop();
          }
        }
      });
      if (candidates.length < keep) candidates.sort((x, y) => y.score - x.score);
      const next: Beam[] = [];
      const nextRows: number[] = [];
      for (let rank = 0; rank < candidates.length && next.length < numBeams; rank++) {
        const c = candidates[rank];
        const ids = item.beams[c.beam].ids;
        if (c.token === options.eosId) {
          if (rank < numBeams) item.done.push({ ids: ids.slice(), score: c.score, normalized: c.score / (ids.length + 1) ** lp });
          continue;
        }
        next.push({ ids: [...ids, c.token], score: c.score });
        nextRows.push(item.rows[c.beam]);
      }
      item.beams = next;
      if (item.done.length >= numBeams || next.length === 0 || i === maxNew - 1) {
        item.open = false;
        continue;
      }
      item.rows = next.map((beam, b) => {
        tokens.push(beam.ids[beam.ids.length - 1]);
        parents.push(nextRows[b]);
        return parents.length - 1;
      });
    }
    if (tokens.length === 0) break;
    logits = await decoder.step(tokens, parents);
  }
  // Once numBeams hypotheses have ended they are the answer; otherwise (max length reached) the
  // unfinished beams compete with their current score.
  return items.map((item) => {
    const pool = item.done.map((d) => ({ ...d, finished: true }));
    if (item.done.length < numBeams) for (const b of item.beams) pool.push({ ids: b.ids, score: b.score, normalized: b.score / Math.max(1, b.ids.length) ** lp, finished: false });
    pool.sort((a, b) => b.normalized - a.normalized);
    const best = pool[0];
    return best ? { ids: best.ids, finished: best.finished, score: best.score } : { ids: [], finished: false, score: null };
  });
}

/** Greedy or beam-search generation for one input (a batch of one). */
export async function generate(model: CausalLM, input: PrefixInput, options: GenerateOptions = {}): Promise<GenerateResult> {
  checkOptions(options);
  const C = model.config.nEmbd;
  if (input.prefix && input.prefix.shape[1] !== C) throw new Error(`generate: prefix has width ${input.prefix.shape[1]}, expected n_embd ${C}`);
  if (!input.prefix && input.promptIds.length === 0) throw new Error('generate: empty input (no prefix and no prompt ids)');
  const prefix = input.prefix ? tf.tidy(() => tf.expandDims(input.prefix instanceof tf.Tensor ? input.prefix : tf.tensor2d(input.prefix!.data, input.prefix!.shape), 0) as tf.Tensor3D) : null;
  try {
    const [result] = await generateBatch(new CausalLmDecoder(model), prefix, [input.promptIds], { ...options, eosId: options.eosId ?? model.config.eosTokenId });
    return result;
  } finally {
    prefix?.dispose();
  }
}
