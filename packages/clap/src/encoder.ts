import type { Embeddings, Rng } from '@mats/core';
import type { AudioClip } from '@mats/datasets';

/**
 * A CLAP model: audio and text into one joint space. Raw embeddings are returned as the model makes
 * them (msclap's end in a LayerNorm, so they are NOT unit-norm); consumers L2-normalise.
 */
export interface ClapEncoder {
  /** Dimension of the joint space (msclap: 1024). */
  readonly dim: number;
  /** One row per clip, in order. Clips are decoded audio at any sample rate; each encoder resamples. */
  embedAudio(clips: AudioClip[]): Promise<Embeddings>;
  /**
   * Optional: one row per audio file, the same rows as `embedAudio` of the decoded files, reading
   * each file only as far as the encoder's window needs (bounded memory for long clips); errors
   * name the path. Call it through `embedAudioFiles(encoder, paths)`, which falls back to decoding.
   */
  embedAudioFiles?(paths: string[]): Promise<Embeddings>;
  /**
   * Optional: the random stream of the crops of clips longer than the encoder's window (drawn in
   * clip order). A caller that retries part of a failed batch restores its state first
   * (`getState` before, `setState` on failure; `embedEach` does), so the retried clips get the
   * crops they would have got.
   */
  readonly cropRng?: Rng;
  /** One row per text, in order. */
  embedText(texts: string[]): Promise<Embeddings>;
  /** Frees sessions / tensors; the encoder cannot be used afterwards. */
  dispose(): Promise<void>;
}

/**
 * One row or one error per item: `embed` of all items at once, and when that fails, `embed` of each
 * item alone (to find the bad ones), started from the encoder's crop stream as it was before the
 * batch, so every item that embeds gets the crop it gets in a batch where nothing fails.
 */
export async function embedEach<T>(encoder: ClapEncoder, items: T[], embed: (part: T[]) => Promise<Embeddings>): Promise<(Float32Array | unknown)[]> {
  if (items.length === 0) return [];
  const rows = (e: Embeddings) => Array.from({ length: e.rows }, (_, r) => e.data.slice(r * e.dim, (r + 1) * e.dim));
  const crops = encoder.cropRng?.getState();
  try {
    return rows(await embed(items));
  } catch {
    if (crops) encoder.cropRng!.setState(crops);
    const out: (Float32Array | unknown)[] = [];
    for (const item of items) {
      try {
        out.push(rows(await embed([item]))[0]);
      } catch (err) {
        out.push(err);
      }
    }
    return out;
  }
}

/** Splits `count` items into consecutive [start, end) batches of at most `batchSize`. */
export function batchRanges(count: number, batchSize: number): [number, number][] {
  if (!Number.isInteger(batchSize) || batchSize <= 0) throw new Error(`batchSize must be a positive integer, got ${batchSize}`);
  const out: [number, number][] = [];
  for (let start = 0; start < count; start += batchSize) out.push([start, Math.min(count, start + batchSize)]);
  return out;
}
