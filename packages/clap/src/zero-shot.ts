import { l2Normalize, type Embeddings } from '@mats/core';
import type { AudioClip } from '@mats/datasets';
import type { ClapEncoder } from './encoder.js';
import { embedAudioFiles } from './audio-files.js';

/** msclap's zero-shot prompt. */
export const ZERO_SHOT_TEMPLATE = 'This is a sound of {label}.';

export interface ZeroShotResult {
  labels: string[];
  /** Row-major [clips, labels] cosine similarities. */
  scores: Float32Array;
  /** Index of the best label per clip. */
  predictions: number[];
}

/** Cosine similarities between every row of `a` and every row of `b`, row-major [a.rows, b.rows]. */
export function cosineSimilarities(a: Embeddings, b: Embeddings): Float32Array {
  if (a.dim !== b.dim) throw new Error(`cosineSimilarities: dims differ (${a.dim} vs ${b.dim})`);
  const an = l2Normalize(a);
  const bn = l2Normalize(b);
  const out = new Float32Array(a.rows * b.rows);
  for (let i = 0; i < a.rows; i++) {
    for (let j = 0; j < b.rows; j++) {
      let s = 0;
      for (let k = 0; k < a.dim; k++) s += an.data[i * a.dim + k] * bn.data[j * a.dim + k];
      out[i * b.rows + j] = s;
    }
  }
  return out;
}

/** Index of the largest value of each row of a row-major [rows, cols] matrix. */
export function argmaxRows(m: Float32Array, cols: number): number[] {
  const rows = m.length / cols;
  const out: number[] = [];
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < cols; c++) if (m[r * cols + c] > m[r * cols + best]) best = c;
    out.push(best);
  }
  return out;
}

/**
 * CLAP zero-shot classification: embed `This is a sound of {label}.` for every label and every clip,
 * pick the label with the highest cosine similarity. `clips` are decoded clips or audio file paths
 * (read as `embedAudioFiles` reads them).
 */
export async function zeroShotClassify(encoder: ClapEncoder, clips: AudioClip[] | string[], labels: string[], template = ZERO_SHOT_TEMPLATE): Promise<ZeroShotResult> {
  if (labels.length === 0) throw new Error('zeroShotClassify: no labels given');
  if (!template.includes('{label}')) throw new Error(`zeroShotClassify: the template must contain {label}, got ${JSON.stringify(template)}`);
  const text = await encoder.embedText(labels.map((l) => template.replace('{label}', l)));
  const audio = isPaths(clips) ? await embedAudioFiles(encoder, clips) : await encoder.embedAudio(clips);
  const scores = audio.rows === 0 ? new Float32Array(0) : cosineSimilarities(audio, text);
  return { labels, scores, predictions: argmaxRows(scores, labels.length) };
}

function isPaths(clips: AudioClip[] | string[]): clips is string[] {
  return clips.length > 0 && typeof clips[0] === 'string';
}
