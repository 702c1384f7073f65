/**
 * One question about one clip, the MATS way, on an opened export: log-mel (the @mats/clap front end),
 * CLAP audio embedding, Santa (@mats/santa's transfer, with the step shown), mapper prefix, and
 * generation with @mats/llm-lora's generateBatch on the ONNX decoder, streaming tokens as they come.
 */
import { Rng, createEmbeddings, type Embeddings } from '@mats/core';
import type { AudioClip } from '@mats/datasets/browser';
import { generateBatch, type BatchDecoder } from '@mats/llm-lora';
import { transfer, type SantaMemory, type SantaOptions, type TransferMethod } from '@mats/santa';
import type { ExportManifest } from '@mats/model';
import type { WebExport } from './export-folder.js';

/** What the page shows of the Santa step (paper eq. 7) for one embedding. */
export interface SantaStep {
  method: string;
  /** Closest centroid (squared Euclidean distance to the normalised audio embedding). */
  cluster: number;
  clusterSize: number;
  /** The retrieved members, heaviest first: memory row and softmax weight. */
  members: { row: number; weight: number }[];
  lambda: number;
}

/** Santa options of an export's manifest, as @mats/model's askExported passes them. */
export function santaOptions(manifest: ExportManifest): SantaOptions {
  const s = manifest.santa;
  if (!s) return {};
  return {
    topL: s.topL,
    tau: s.tau,
    lambda: s.lambda,
    normalizeAudio: s.normalizeAudio,
    padClusters: s.padClusters,
    queryNoise: s.queryNoise,
    rng: new Rng(`${s.seed ?? 0}/santa-query`),
  };
}

/**
 * The Santa step for display: the closest cluster and the softmax weights over its top-L members
 * (computed as in @mats/santa; `transfer` produces the embedding actually used).
 */
export function santaStep(audio: Float32Array, memory: SantaMemory, options: SantaOptions, method = 'santa'): SantaStep {
  const dim = memory.memory.dim;
  const z = Float64Array.from(audio);
  if (options.normalizeAudio ?? true) {
    const n = Math.hypot(...z) || 1;
    for (let i = 0; i < dim; i++) z[i] /= n;
  }
  let cluster = 0;
  let best = Infinity;
  for (let c = 0; c < memory.centroids.rows; c++) {
    let d = 0;
    for (let i = 0; i < dim; i++) {
      const v = z[i] - memory.centroids.data[c * dim + i];
      d += v * v;
    }
    if (d < best) [best, cluster] = [d, c];
  }
  const rows = Array.from(memory.clusters[cluster]);
  const dots = rows.map((r) => {
    let s = 0;
    for (let i = 0; i < dim; i++) s += z[i] * memory.memory.data[r * dim + i];
    return { row: r, dot: s };
  });
  dots.sort((a, b) => b.dot - a.dot);
  const top = dots.slice(0, options.topL ?? 32);
  const tau = options.tau ?? 0.1;
  const max = top[0]?.dot ?? 0;
  const exps = top.map((m) => Math.exp((m.dot - max) / tau));
  const sum = exps.reduce((a, b) => a + b, 0);
  return { method, cluster, clusterSize: rows.length, members: top.map((m, i) => ({ row: m.row, weight: exps[i] / sum })), lambda: method === 'no-audio' ? 1 : (options.lambda ?? 0.3) };
}

/** A decoder that reports each token generateBatch feeds back (greedy: the answer so far). */
class StreamingDecoder<P> implements BatchDecoder<P> {
  constructor(
    private readonly inner: BatchDecoder<P>,
    private readonly onStep: (tokens: number[]) => void,
  ) {}
  get vocabSize(): number {
    return this.inner.vocabSize;
  }
  start(prefix: P | null, promptIds: number[][]): Promise<Float32Array> {
    return this.inner.start(prefix, promptIds);
  }
  step(tokens: number[], parents: number[]): Promise<Float32Array> {
    this.onStep(tokens);
    return this.inner.step(tokens, parents);
  }
  end(): void {
    this.inner.end();
  }
}

export interface AnswerResult {
  /** Log-mel frames [frames, nMels] the CLAP encoder saw. */
  mel: Float32Array;
  frames: number;
  nMels: number;
  embedding: Embeddings;
  santa: SantaStep | null;
  ids: number[];
  text: string;
  finished: boolean;
}

export interface AnswerOptions {
  /** Called with the decoded answer so far (greedy decoding only). */
  onText?: (text: string) => void;
  /** Override the export's generation defaults. */
  maxNewTokens?: number;
}

/** Answers `prompt` about `clip` with an opened export. */
export async function answerClip(model: WebExport, clip: AudioClip, prompt: string, options: AnswerOptions = {}): Promise<AnswerResult> {
  const { manifest, clap, tokenizer } = model;
  const mel = clap.melFeatures([clip]);
  const embedding = createEmbeddings(1, clap.dim, await clap.embedMel(mel, 1));
  let z = embedding;
  let step: SantaStep | null = null;
  if (model.memory && manifest.santa) {
    const o = santaOptions(manifest);
    const method = manifest.santa.method as TransferMethod;
    z = transfer(method, embedding, model.memory, o);
    if (method !== 'noise-only' && method !== 'memory-only') step = santaStep(embedding.data, model.memory, o, method);
  }
  const prefix = await model.mapper.forward(z);
  const g = manifest.generation;
  const streamed: number[] = [];
  const inner = model.llm.decoder();
  const decoder =
    g.numBeams === 1 && options.onText
      ? new StreamingDecoder(inner, (tokens) => {
          streamed.push(tokens[0]);
          options.onText!(tokenizer.decode(streamed).trim());
        })
      : inner;
  const [result] = await generateBatch(decoder, prefix.data, [tokenizer.encode(prompt)], {
    maxNewTokens: options.maxNewTokens ?? g.maxNewTokens,
    numBeams: g.numBeams,
    noRepeatNgramSize: g.noRepeatNgramSize,
    repetitionPenalty: g.repetitionPenalty,
    eosId: manifest.llm.eosTokenId,
  });
  const text = result.ids.length > 0 ? tokenizer.decode(result.ids).trim() : '';
  options.onText?.(text);
  return { mel, frames: clap.frames, nMels: manifest.clap && manifest.clap.kind === 'tiny' ? manifest.clap.mel.nMels : 0, embedding, santa: step, ids: result.ids, text, finished: result.finished };
}
