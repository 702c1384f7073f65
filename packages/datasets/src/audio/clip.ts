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

/**
 * Audio read on demand, a range of frames at a time: a long file is embedded without holding it
 * whole (`openAudioFile`), an in-memory clip through `clipSource`.
 */
export interface AudioSource {
  /** Where the audio comes from (a file path), named in errors. */
  readonly source: string;
  readonly sampleRate: number;
  readonly channelCount: number;
  /** Samples per channel. */
  readonly frames: number;
  /** Frames [start, end) of every channel, 0 <= start <= end <= frames. */
  read(start: number, end: number): Promise<AudioClip>;
  /** Releases the file; the source cannot be read afterwards. */
  close(): Promise<void>;
}

/** An in-memory clip as an AudioSource (reads are views of its channels). */
export function clipSource(clip: AudioClip, source = '<clip>'): AudioSource {
  const out: AudioSource = {
    source,
    sampleRate: clip.sampleRate,
    channelCount: clip.channels.length,
    frames: clipLength(clip),
    read: async (start, end) => {
      checkFrameRange(out, start, end);
      return { sampleRate: clip.sampleRate, channels: clip.channels.map((ch) => ch.subarray(start, end)) };
    },
    close: async () => undefined,
  };
  return out;
}

/** Throws, naming the source, unless [start, end) is a range of its frames. */
export function checkFrameRange(source: AudioSource, start: number, end: number): void {
  if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= source.frames)) {
    throw new Error(`${source.source}: cannot read frames [${start}, ${end}) of a clip of ${source.frames} frames`);
  }
}
