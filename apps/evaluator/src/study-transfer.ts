/**
 * Why a text-trained MATS answers audio as it does, measured on the captioning set's (clip, first
 * reference caption) pairs: the teacher-forced loss of the caption (nats per token, answer + eos)
 * when the prefix is made from
 *   - the clean caption text embedding (what w/o GN trains on),
 *   - the caption text embedding with the study's training noise (what MATS trains on),
 *   - the clip's audio embedding as it is (noise-only inference),
 *   - the clip's audio embedding after Santa (MATS inference),
 * and where those four inputs sit: mean cosine of each to the clip's audio embedding and to its
 * caption's text embedding. A small loss gap between text and audio inputs means the modality gap
 * costs the LLM little; the cosines show which input the transfer brings the audio closest to.
 */
import { type Embeddings, Rng, createEmbeddings, dot, embeddingRow, l2Normalize, selectRows } from '@mats/core';
import { injectNoise } from '@mats/santa';
import type { PrefixLmExample } from '@mats/llm-lora';
import type { MatsModel } from '@mats/model';

export interface TransferPair {
  audio: Float32Array;
  caption: string;
  /** The captioning prompt the evaluation asks this clip with. */
  instruction: string;
}

export const TRANSFER_INPUTS = ['text', 'noisyText', 'audio', 'santa'] as const;
export type TransferInput = (typeof TRANSFER_INPUTS)[number];

export interface TransferDiagnostics {
  pairs: number;
  /** The noise variance of the `noisyText` input. */
  variance: number;
  /** Teacher-forced caption loss per token (nats) for each prefix input. */
  loss: Record<TransferInput, number>;
  /** Mean cosine of each input to the clip's audio embedding. */
  cosineToAudio: Record<TransferInput, number>;
  /** Mean cosine of each input to the caption's text embedding. */
  cosineToText: Record<TransferInput, number>;
}

function meanRowCosine(a: Embeddings, b: Embeddings): number {
  const x = l2Normalize(a);
  const y = l2Normalize(b);
  let sum = 0;
  for (let r = 0; r < x.rows; r++) sum += dot(embeddingRow(x, r), embeddingRow(y, r));
  return sum / x.rows;
}

/** The captions' loss (nats per token over all pairs) with prefixes made from `inputs` rows. */
async function captionLoss(run: MatsModel, inputs: Embeddings, examples: PrefixLmExample[], batchSize: number): Promise<number> {
  const tokens = examples.reduce((n, e) => n + e.answer.length + 1, 0);
  let total = 0;
  for (let i = 0; i < examples.length; i += batchSize) {
    const rows = Array.from({ length: Math.min(batchSize, examples.length - i) }, (_, k) => i + k);
    const loss = run.trainingLoss({ embeddings: selectRows(inputs, rows), examples: rows.map((r) => examples[r]) }, { noise: null, denominator: tokens });
    total += (await loss.data())[0];
    loss.dispose();
  }
  return total;
}

/**
 * The diagnostics of one trained run (a run folder on tfjs: the loss needs the training graph, which
 * an ONNX export does not have): `variance` is the noise of the noisy-text input; `seed` seeds that
 * noise and Santa's query rng.
 */
export async function transferDiagnostics(run: MatsModel, pairs: TransferPair[], variance: number, seed: number, batchSize = 32): Promise<TransferDiagnostics> {
  if (pairs.length === 0) throw new Error('transferDiagnostics: no (clip, caption) pairs');
  const dim = run.dim;
  const audio = createEmbeddings(pairs.length, dim);
  pairs.forEach((p, i) => {
    if (p.audio.length !== dim) throw new Error(`transferDiagnostics: pair ${i}: audio embedding has ${p.audio.length} values, the CLAP gives ${dim}`);
    audio.data.set(p.audio, i * dim);
  });
  const text = l2Normalize(await run.clap.embedText(pairs.map((p) => p.caption)));
  const inputs: Record<TransferInput, Embeddings> = {
    text,
    noisyText: injectNoise(text, { variance, rng: new Rng(`study-transfer/${seed}/noise`) }),
    audio: l2Normalize(audio),
    santa: run.transferEmbeddings(audio, { method: 'santa', rng: new Rng(`study-transfer/${seed}/santa`) }),
  };
  const examples = pairs.map((p, i) => run.encodeExample({ instruction: p.instruction, answer: p.caption }, `caption pair ${i}`));
  const loss = {} as Record<TransferInput, number>;
  const cosineToAudio = {} as Record<TransferInput, number>;
  const cosineToText = {} as Record<TransferInput, number>;
  for (const k of TRANSFER_INPUTS) {
    loss[k] = await captionLoss(run, inputs[k], examples, batchSize);
    cosineToAudio[k] = meanRowCosine(inputs[k], inputs.audio);
    cosineToText[k] = meanRowCosine(inputs[k], text);
  }
  return { pairs: pairs.length, variance, loss, cosineToAudio, cosineToText };
}
