/** CLAP audio embeddings of files (Node only: reads through @mats/datasets' openAudioFile). */
import type { Embeddings, Rng } from '@mats/core';
import { decodeAudioFile, openAudioFile, type AudioClip } from '@mats/datasets';
import type { ClapEncoder } from './encoder.js';
import { prepareSourceWaveform, type WaveformPrepOptions } from './audio-prep.js';

/**
 * The prepared waveform of an audio file, reading only the frames the crop needs (see
 * prepareSourceWaveform): a long file costs what its window does. Errors name the path.
 */
export async function prepareFileWaveform(path: string, rng: Rng, options: WaveformPrepOptions = {}): Promise<Float32Array> {
  const source = await openAudioFile(path);
  try {
    return await prepareSourceWaveform(source, rng, options);
  } finally {
    await source.close();
  }
}

/**
 * Audio embeddings of files, one row per path: through the encoder's `embedAudioFiles` (TinyClap,
 * OnnxClap: each file read only as far as its crop needs, errors name the path), or for an encoder
 * without one, `embedAudio` of the decoded clips.
 */
export async function embedAudioFiles(encoder: ClapEncoder, paths: string[]): Promise<Embeddings> {
  if (encoder.embedAudioFiles) return encoder.embedAudioFiles(paths);
  const clips: AudioClip[] = [];
  for (const p of paths) clips.push(await decodeAudioFile(p));
  return encoder.embedAudio(clips);
}
