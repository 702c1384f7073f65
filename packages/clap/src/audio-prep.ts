import type { Rng } from '@mats/core';
import { downmixMean, resample, type AudioClip } from '@mats/datasets/browser';

/** msclap 2023: audio at 44.1 kHz, 7 s per clip. */
export const MSCLAP_SAMPLE_RATE = 44100;
export const MSCLAP_CLIP_SAMPLES = 308700;

/**
 * How several channels become one waveform. `flatten` (default, msclap parity): the channels end to
 * end, as msclap's `reshape(-1)` of a [channels, time] tensor - a stereo clip becomes one clip of
 * twice the length. `mean`: the usual downmix.
 */
export type ChannelMode = 'flatten' | 'mean';

export interface WaveformPrepOptions {
  sampleRate?: number;
  samples?: number;
  channelMode?: ChannelMode;
}

/** Checks a clip and throws naming the clip and what is wrong. */
export function validateClip(clip: AudioClip, index = 0): void {
  const name = `audio clip ${index}`;
  if (!clip || typeof clip !== 'object') throw new Error(`${name}: expected { sampleRate, channels }, got ${clip}`);
  if (!(typeof clip.sampleRate === 'number' && Number.isFinite(clip.sampleRate) && clip.sampleRate > 0)) {
    throw new Error(`${name}: sampleRate must be a positive number of Hz, got ${clip.sampleRate}`);
  }
  if (!Array.isArray(clip.channels) || clip.channels.length === 0) throw new Error(`${name}: has no channels`);
  const length = clip.channels[0]?.length ?? 0;
  clip.channels.forEach((ch, c) => {
    if (!(ch instanceof Float32Array)) throw new Error(`${name}: channel ${c} must be a Float32Array, got ${Object.prototype.toString.call(ch)}`);
    if (ch.length !== length) throw new Error(`${name}: channel ${c} has ${ch.length} samples, channel 0 has ${length}`);
  });
  if (length === 0) throw new Error(`${name}: is empty (0 samples)`);
  for (const [c, ch] of clip.channels.entries()) {
    for (let i = 0; i < ch.length; i++) {
      if (!Number.isFinite(ch[i])) throw new Error(`${name}: channel ${c} sample ${i} is ${ch[i]}`);
    }
  }
}

/**
 * Repeats a short signal until it has `samples` values and cuts it there, or crops a long one at a
 * random start in [0, length - samples) drawn from `rng` - msclap's `load_audio_into_tensor`
 * (a signal of exactly `samples` values is returned unchanged, as there).
 */
export function fitLength(signal: Float32Array, samples: number, rng: Rng): Float32Array {
  if (signal.length === 0) throw new Error('fitLength: the signal is empty');
  if (samples >= signal.length) {
    const out = new Float32Array(samples);
    for (let offset = 0; offset < samples; offset += signal.length) {
      out.set(signal.subarray(0, Math.min(signal.length, samples - offset)), offset);
    }
    return out;
  }
  const start = rng.int(signal.length - samples);
  return signal.slice(start, start + samples);
}

/**
 * msclap's waveform preparation for one clip: resample to 44.1 kHz (torchaudio's resampler, from
 * @mats/datasets), channels flattened end to end (or a mean downmix), then tiled or cropped to 7 s.
 */
export function prepareWaveform(clip: AudioClip, rng: Rng, options: WaveformPrepOptions = {}, index = 0): Float32Array {
  const rate = options.sampleRate ?? MSCLAP_SAMPLE_RATE;
  const samples = options.samples ?? MSCLAP_CLIP_SAMPLES;
  const mode = options.channelMode ?? 'flatten';
  validateClip(clip, index);
  if (!Number.isInteger(clip.sampleRate)) throw new Error(`audio clip ${index}: sampleRate must be an integer number of Hz, got ${clip.sampleRate}`);
  let signal: Float32Array;
  if (mode === 'mean') {
    signal = resample(downmixMean(clip), clip.sampleRate, rate);
  } else if (mode === 'flatten') {
    // Resample each channel, then concatenate (resampling the flattened signal would smear across the seam).
    const parts = clip.channels.map((ch) => resample(ch, clip.sampleRate, rate));
    signal = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    let offset = 0;
    for (const p of parts) {
      signal.set(p, offset);
      offset += p.length;
    }
  } else {
    throw new Error(`channelMode must be "flatten" or "mean", got ${JSON.stringify(mode)}`);
  }
  return fitLength(signal, samples, rng);
}
