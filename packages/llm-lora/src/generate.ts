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

function disposeCache(cache: KvCache | undefined): void {
  if (!cache) return;
  tf.dispose([...cache.keys, ...cache.values]);
}

/** Runs the prefix + prompt once; returns the last position's logits and the cache. */
function start(model: CausalLM, input: PrefixInput): { logits: Float32Array; cache: KvCache } {
  const C = model.config.nEmbd;
  let cache: KvCache | undefined;
  const logitsT = tf.tidy(() => {
    const parts: tf.Tensor3D[] = [];
    if (input.prefix) {
      const p = input.prefix instanceof tf.Tensor ? input.prefix : tf.tensor2d(input.prefix.data, input.prefix.shape);
      if (p.shape[1] !== C) throw new Error(`generate: prefix has width ${p.shape[1]}, expected n_embd ${C}`);
      parts.push(tf.expandDims(p, 0) as tf.Tensor3D);
    }
    if (input.promptIds.length) parts.push(model.embedTokens([input.promptIds]));
    if (!parts.length) throw new Error('generate: empty input (no prefix and no prompt ids)');
    const x = parts.length > 1 ? tf.concat(parts, 1) : parts[0];
    const out = model.forward(x as tf.Tensor3D, { useCache: true });
    cache = out.cache!;
    cache.keys.concat(cache.values).forEach((t) => tf.keep(t));
    const T = out.hidden.shape[1];
    return model.lmHead(tf.slice(out.hidden, [0, T - 1, 0], [1, 1, C]));
  });
  const logits = logitsT.dataSync() as Float32Array;
  logitsT.dispose();
  return { logits: new Float32Array(logits), cache: cache! };
}

/** One cached step for `tokens` (one per row): logits [rows, vocab] and the grown cache. */
function step(model: CausalLM, tokens: number[], cache: KvCache): { logits: Float32Array; cache: KvCache } {
  let next: KvCache | undefined;
  const logitsT = tf.tidy(() => {
    const emb = model.embedTokens(tokens.map((t) => [t]));
    const out = model.forward(emb, { cache, useCache: true });
    next = out.cache!;
    return model.lmHead(out.hidden);
  });
  const logits = logitsT.dataSync() as Float32Array;
  logitsT.dispose();
  return { logits: new Float32Array(logits), cache: next! };
}

/** Greedy or beam-search generation for one input. */
export function generate(model: CausalLM, input: PrefixInput, options: GenerateOptions = {}): GenerateResult {
  const numBeams = options.numBeams ?? 1;
  if (!Number.isInteger(numBeams) || numBeams < 1) throw new Error(`generate: numBeams must be a positive integer, got ${numBeams}`);
  const maxNew = options.maxNewTokens ?? 200;
  if (!Number.isInteger(maxNew) || maxNew < 1) throw new Error(`generate: maxNewTokens must be a positive integer, got ${maxNew}`);
  if ((options.repetitionPenalty ?? 1) <= 0) throw new Error(`generate: repetitionPenalty must be > 0, got ${options.repetitionPenalty}`);
  return numBeams === 1 ? greedy(model, input, options, maxNew) : beamSearch(model, input, options, maxNew, numBeams);
}

function greedy(model: CausalLM, input: PrefixInput, options: GenerateOptions, maxNew: number): GenerateResult {
  const eos = options.eosId ?? model.config.eosTokenId;
  let { logits, cache } = start(model, input);
  const ids: number[] = [];
  let finished = false;
  try {
    for (let i = 0; i < maxNew; i++) {
      processLogits(logits, ids, options);
      const token = argmax(logits);
      if (token === eos) {
        finished = true;
        break;
      }
      ids.push(token);
      if (i === maxNew - 1) break;
      const next = step(model, [token], cache);
      disposeCache(cache);
      cache = next.cache;
      logits = next.logits;
    }
  } finally {
    disposeCache(cache);
  }
  return { ids, finished, score: null };
}

interface Beam {
  ids: number[];
  score: number;
}

function beamSearch(model: CausalLM, input: PrefixInput, options: GenerateOptions, maxNew: number, numBeams: number): GenerateResult {
  const eos = options.eosId ?? model.config.eosTokenId;
  const lp = options.lengthPenalty ?? 1;
  const V = model.config.vocabSize;
  const first = start(model, input);
  let cache = first.cache;
  let beams: Beam[] = [{ ids: [], score: 0 }];
  let rowLogits: Float32Array[] = [first.logits];
  const done: { ids: number[]; score: number; normalized: number }[] = [];
  try {
    for (let i = 0; i < maxNew; i++) {
      // Candidates over every beam x token, best 2 * numBeams kept (enough to survive eos endings).
      const candidates: { beam: number; token: number; score: number }[] = [];
      const keep = 2 * numBeams;
      beams.forEach((beam, b) => {
        const row = rowLogits[b];
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
      const parents: number[] = [];
      for (let rank = 0; rank < candidates.length && next.length < numBeams; rank++) {
        const c = candidates[rank];
        const ids = beams[c.beam].ids;
        if (c.token === eos) {
          if (rank < numBeams) {
            const length = ids.length + 1;
            done.push({ ids: ids.slice(), score: c.score, normalized: c.score / length ** lp });
          }
          continue;
        }
        next.push({ ids: [...ids, c.token], score: c.score });
        parents.push(c.beam);
      }
      if (done.length >= numBeams || next.length === 0 || i === maxNew - 1) {
        beams = next;
        break;
      }
      // Reorder the cache to the surviving beams' parents, then run one position for each.
      const idx = tf.tensor1d(parents, 'int32');
      const reordered: KvCache = { keys: cache.keys.map((k) => tf.gather(k, idx, 0)), values: cache.values.map((v) => tf.gather(v, idx, 0)), length: cache.length };
      idx.dispose();
      disposeCache(cache);
      const out = step(model, next.map((b) => b.ids[b.ids.length - 1]), reordered);
      disposeCache(reordered);
      cache = out.cache;
      rowLogits = next.map((_, r) => out.logits.subarray(r * V, (r + 1) * V));
      beams = next;
    }
  } finally {
    disposeCache(cache);
  }
  // Once numBeams hypotheses have ended they are the answer; otherwise (max length reached) the
  // unfinished beams compete with their current score.
  const pool = done.map((d) => ({ ...d, finished: true }));
  if (done.length < numBeams) for (const b of beams) pool.push({ ids: b.ids, score: b.score, normalized: b.score / Math.max(1, b.ids.length) ** lp, finished: false });
  pool.sort((a, b) => b.normalized - a.normalized);
  const best = pool[0];
  return { ids: best.ids, finished: best.finished, score: best.score };
}
