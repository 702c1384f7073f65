/** Decoded audio: one Float32Array of samples in [-1, 1] per channel, all of the same length. */
export interface AudioClip {
  sampleRate: number;
  channels: Float32Array[];
}

/** Number of samples per channel (0 for a clip without channels). */
export function clipLength(clip: AudioClip): number {
  return clip.channels.length === 0 ? 0 : clip.channels[0].length;
}

/** Duration in seconds. */
export function clipDuration(clip: AudioClip): number {
  return clipLength(clip) / clip.sampleRate;
}

/** Mean of the channels (a copy, also for mono input). */
export function downmixMean(clip: AudioClip): Float32Array {
  const n = clipLength(clip);
  const out = new Float32Array(n);
  const k = clip.channels.length;
  if (k === 0) throw new Error('downmixMean: clip has no channels');
  for (const ch of clip.channels) for (let i = 0; i < n; i++) out[i] += ch[i];
  if (k > 1) for (let i = 0; i < n; i++) out[i] /= k;
  return out;
}

/**
 * The channels concatenated end to end (channel 0, then channel 1, ...): what msclap's
 * `audio.reshape(-1)` does to a `[channels, time]` tensor. For mono input this is a copy of channel 0.
 */
export function flattenChannels(clip: AudioClip): Float32Array {
  const n = clipLength(clip);
  const out = new Float32Array(n * clip.channels.length);
  clip.channels.forEach((ch, c) => out.set(ch, c * n));
  return out;
}
