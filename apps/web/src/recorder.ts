/**
 * Recording from the microphone: raw samples through Web Audio (no compressed container to decode),
 * at the audio context's rate, with the browser's voice processing (echo cancellation, noise
 * suppression, automatic gain) turned off so the model hears the sound as it is. The recording stops
 * by itself after one CLAP clip, which is all the encoder looks at.
 */
import type { AudioClip } from '@mats/datasets/browser';

/**
 * Frames to record at `contextRate` for one CLAP clip of `clipSamples` at `clapRate`: rounded down, so
 * that the resampled recording is never longer than the clip (a longer one would be cropped at a
 * random offset; a shorter one is tiled, deterministically).
 */
export function recordingFrames(clipSamples: number, clapRate: number, contextRate: number): number {
  return Math.floor((clipSamples * contextRate) / clapRate);
}

/** The first `limit` samples of the chunks, end to end. */
export function joinChunks(chunks: Float32Array[], limit: number): Float32Array {
  const total = Math.min(limit, chunks.reduce((n, c) => n + c.length, 0));
  const out = new Float32Array(total);
  let at = 0;
  for (const c of chunks) {
    if (at >= total) break;
    const part = c.subarray(0, total - at);
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** What the page says when getUserMedia fails, by the DOMException's name. */
export function microphoneError(err: unknown): string {
  const name = (err as { name?: string })?.name ?? '';
  const detail = (err as { message?: string })?.message ?? String(err);
  const why: Record<string, string> = {
    NotAllowedError: 'the page is not allowed to use the microphone (permission denied); allow it for this site and try again',
    SecurityError: 'the page is not allowed to use the microphone (permission denied); allow it for this site and try again',
    NotFoundError: 'no microphone was found',
    NotReadableError: 'the microphone could not be opened (in use by another program, or a hardware error)',
    OverconstrainedError: 'the microphone cannot record with the requested settings',
  };
  return `Could not record from the microphone: ${why[name] ?? 'the browser refused'} (${name || 'Error'}: ${detail})`;
}

export interface Recording {
  /** Stops early; `done` then resolves with what was recorded so far. */
  stop(): void;
  /** The recording, mono, at the audio context's rate. */
  done: Promise<AudioClip>;
  sampleRate: number;
  /** Frames it records before stopping by itself. */
  frames: number;
}

/**
 * Starts recording. `framesFor(rate)` gives the length at the context's rate; `onProgress(recorded,
 * frames, rate)` follows it. Rejects with microphoneError's message when there is no microphone or no permission.
 */
export async function startRecording(framesFor: (sampleRate: number) => number, onProgress: (recorded: number, frames: number, sampleRate: number) => void = () => {}): Promise<Recording> {
  if (!navigator.mediaDevices?.getUserMedia) {
    throw new Error('Could not record from the microphone: this browser offers no navigator.mediaDevices.getUserMedia (it needs a secure context: https or localhost)');
  }
  let stream: MediaStream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
  } catch (err) {
    throw new Error(microphoneError(err));
  }
  const ctx = new AudioContext();
  await ctx.resume();
  const frames = framesFor(ctx.sampleRate);
  const source = ctx.createMediaStreamSource(stream);
  // Mono: the processor's single input channel is the speaker downmix of the capture's channels.
  const node = ctx.createScriptProcessor(4096, 1, 1);
  const chunks: Float32Array[] = [];
  let recorded = 0;
  let finish: () => void = () => {};
  const done = new Promise<AudioClip>((resolve) => {
    let finished = false;
    finish = () => {
      if (finished) return;
      finished = true;
      node.onaudioprocess = null;
      node.disconnect();
      source.disconnect();
      stream.getTracks().forEach((t) => t.stop());
      void ctx.close();
      resolve({ sampleRate: ctx.sampleRate, channels: [joinChunks(chunks, frames)] });
    };
  });
  node.onaudioprocess = (e) => {
    chunks.push(new Float32Array(e.inputBuffer.getChannelData(0)));
    recorded += e.inputBuffer.length;
    onProgress(Math.min(recorded, frames), frames, ctx.sampleRate);
    if (recorded >= frames) finish();
  };
  source.connect(node);
  node.connect(ctx.destination);
  return { stop: () => finish(), done, sampleRate: ctx.sampleRate, frames };
}
