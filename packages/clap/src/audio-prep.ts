import type { Rng } from '@mats/core';
import { downmixMean, resample, resampleInputRange, resampleRange, resampledLength, type AudioClip, type AudioSource } from '@mats/datasets/browser';

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

/** How a clip is named in errors: its file path, or `audio clip N` (its index in the call) for a decoded clip. */
function clipName(clip: string | number): string {
  return typeof clip === 'number' ? `audio clip ${clip}` : clip;
}

/** Throws naming the clip and the sample (its index in the file: `firstFrame` + i) at the first NaN / Inf. */
function checkFinite(clip: AudioClip, name: string, firstFrame = 0): void {
  for (const [c, ch] of clip.channels.entries()) {
    for (let i = 0; i < ch.length; i++) {
      if (!Number.isFinite(ch[i])) throw new Error(`${name}: channel ${c} sample ${firstFrame + i} is ${ch[i]}`);
    }
  }
}

function checkRate(sampleRate: unknown, name: string): void {
  if (!(typeof sampleRate === 'number' && Number.isFinite(sampleRate) && sampleRate > 0)) {
    throw new Error(`${name}: sampleRate must be a positive number of Hz, got ${sampleRate}`);
  }
}

/**
 * Checks a clip and throws naming it: `clip` is its file path, or its index in the call (the
 * message then says `audio clip N`).
 */
export function validateClip(clip: AudioClip, name: string | number = 0): void {
  const label = clipName(name);
  if (!clip || typeof clip !== 'object') throw new Error(`${label}: expected { sampleRate, channels }, got ${clip}`);
  checkRate(clip.sampleRate, label);
  if (!Array.isArray(clip.channels) || clip.channels.length === 0) throw new Error(`${label}: has no channels`);
  const length = clip.channels[0]?.length ?? 0;
  clip.channels.forEach((ch, c) => {
    if (!(ch instanceof Float32Array)) throw new Error(`${label}: channel ${c} must be a Float32Array, got ${Object.prototype.toString.call(ch)}`);
    if (ch.length !== length) throw new Error(`${label}: channel ${c} has ${ch.length} samples, channel 0 has ${length}`);
  });
  if (length === 0) throw new Error(`${label}: is empty (0 samples)`);
  checkFinite(clip, label);
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
 * `name` (a file path, or the clip's index in the call) is named in errors.
 */
export function prepareWaveform(clip: AudioClip, rng: Rng, options: WaveformPrepOptions = {}, name: string | number = 0): Float32Array {
  const rate = options.sampleRate ?? MSCLAP_SAMPLE_RATE;
  const samples = options.samples ?? MSCLAP_CLIP_SAMPLES;
  const mode = checkMode(options.channelMode);
  validateClip(clip, name);
  if (!Number.isInteger(clip.sampleRate)) throw new Error(`${clipName(name)}: sampleRate must be an integer number of Hz, got ${clip.sampleRate}`);
  let signal: Float32Array;
  if (mode === 'mean') {
    signal = resample(downmixMean(clip), clip.sampleRate, rate);
  } else {
    // Resample each channel, then concatenate (resampling the flattened signal would smear across the seam).
    const parts = clip.channels.map((ch) => resample(ch, clip.sampleRate, rate));
    signal = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    let offset = 0;
    for (const p of parts) {
      signal.set(p, offset);
      offset += p.length;
    }
  }
  return fitLength(signal, samples, rng);
}

function checkMode(mode: ChannelMode | undefined): ChannelMode {
  const m = mode ?? 'flatten';
  if (m !== 'flatten' && m !== 'mean') throw new Error(`channelMode must be "flatten" or "mean", got ${JSON.stringify(m)}`);
  return m;
}

/**
 * `prepareWaveform` of audio read on demand (a file opened with @mats/datasets' `openAudioFile`):
 * a clip within the window is read whole and prepared as `prepareWaveform` does; of a longer one,
 * the crop is drawn from `rng` exactly as `fitLength` draws it and only the frames that the crop's
 * resampled samples depend on are read. Same values as `prepareWaveform` on the decoded clip (a NaN
 * outside the crop is not read, so not reported); errors name `source.source`.
 */
export async function prepareSourceWaveform(source: AudioSource, rng: Rng, options: WaveformPrepOptions = {}): Promise<Float32Array> {
  const rate = options.sampleRate ?? MSCLAP_SAMPLE_RATE;
  const samples = options.samples ?? MSCLAP_CLIP_SAMPLES;
  const mode = checkMode(options.channelMode);
  const name = source.source;
  checkRate(source.sampleRate, name);
  if (!Number.isInteger(source.sampleRate)) throw new Error(`${name}: sampleRate must be an integer number of Hz, got ${source.sampleRate}`);
  if (!(source.channelCount > 0)) throw new Error(`${name}: has no channels`);
  if (source.frames === 0) throw new Error(`${name}: is empty (0 samples)`);
  const perChannel = resampledLength(source.frames, source.sampleRate, rate);
  const signals = mode === 'flatten' ? source.channelCount : 1;
  const total = perChannel * signals;
  if (total <= samples) return prepareWaveform(await source.read(0, source.frames), rng, options, name);
  // fitLength's crop of the (flattened) resampled signal: [start, start + samples).
  const start = rng.int(total - samples);
  const out = new Float32Array(samples);
  for (let s = 0; s < signals; s++) {
    const from = Math.max(start, s * perChannel) - s * perChannel;
    const to = Math.min(start + samples, (s + 1) * perChannel) - s * perChannel;
    if (to <= from) continue;
    const [lo, hi] = resampleInputRange(source.frames, source.sampleRate, rate, from, to);
    const part = await source.read(lo, hi);
    checkFinite(part, name, lo);
    const signal = mode === 'mean' ? downmixMean(part) : part.channels[s];
    out.set(resampleRange(signal, lo, source.frames, source.sampleRate, rate, from, to), s * perChannel + from - start);
  }
  return out;
}
