/**
 * Reading audio files from disk (Node only; ./decode.ts itself stays free of node: modules for the
 * browser entry). `openAudioFile` reads only what is asked for: a WAV file's header and then the
 * frames of each read, a compressed file decoded as a stream (stopping once the frames are there).
 */
import { closeSync, createReadStream, fstatSync, openSync, readSync } from 'node:fs';
import { type AudioClip, type AudioSource, checkFrameRange } from './clip.js';
import { sniffAudioContainer, type AudioContainer } from './decode.js';
import { checkSampleRate, decodeWavFrames, parseWavLayout } from './wav.js';

export interface OpenAudioOptions {
  /**
   * A compressed file is decoded once to learn its length; up to this many frames (default 2^22,
   * 95 s at 44.1 kHz) are kept from that pass, and a longer file is decoded again for each read.
   */
  keepFrames?: number;
}

const DEFAULT_KEEP_FRAMES = 1 << 22;
/** Bytes read from a compressed file at a time. */
const CHUNK_BYTES = 1 << 20;

function fileError(path: string, err: unknown): Error {
  const code = (err as NodeJS.ErrnoException).code;
  return new Error(`${path}: cannot read audio file (${code ?? (err as Error).message})`);
}

/** Reads `length` bytes at `offset` of an open file (the whole range, or throws naming the file). */
function readBytes(fd: number, path: string, offset: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    let n: number;
    try {
      n = readSync(fd, out, done, length - done, offset + done);
    } catch (err) {
      throw fileError(path, err);
    }
    if (n === 0) throw new Error(`${path}: the file ended at byte ${offset + done} while reading ${length} bytes at byte ${offset}`);
    done += n;
  }
  return out;
}

/**
 * Opens an audio file (WAV / FLAC / MP3 / OGG) for reading a range of frames at a time: its sample
 * rate, channels and length are known at once, its samples are read by `read(start, end)`. The
 * samples are those `decodeAudioFile` gives; every error names the path. Close it when done.
 */
export async function openAudioFile(path: string, options: OpenAudioOptions = {}): Promise<AudioSource> {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw fileError(path, err);
  }
  let head: Uint8Array;
  let size: number;
  try {
    size = fstatSync(fd).size;
    head = readBytes(fd, path, 0, Math.min(size, 64));
    if (sniffAudioContainer(head) === 'wav') return openWav(fd, path, size);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  // A compressed file is read as a stream of its own.
  closeSync(fd);
  const container = sniffAudioContainer(head);
  if (container === null) {
    const hex = Array.from(head.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new Error(`${path}: not a recognised audio file (expected WAV, FLAC, MP3 or OGG; ${size} bytes starting ${hex || '(empty)'})`);
  }
  // An Ogg file carries Opus or Vorbis: the first page names its codec.
  const codec = container === 'ogg' ? (String.fromCharCode(...head).includes('OpusHead') ? 'opus' : 'oga') : container;
  return openCompressed(path, container, codec, options.keepFrames ?? DEFAULT_KEEP_FRAMES);
}

/** Reads and decodes a whole audio file (WAV / FLAC / MP3 / OGG). Errors name the path. */
export async function decodeAudioFile(path: string): Promise<AudioClip> {
  const source = await openAudioFile(path);
  try {
    return await source.read(0, source.frames);
  } finally {
    await source.close();
  }
}

function openWav(fd: number, path: string, size: number): AudioSource {
  const { format, dataOffset, frames } = parseWavLayout(size, (at, n) => readBytes(fd, path, at, n), path);
  let open = true;
  return {
    source: path,
    sampleRate: format.sampleRate,
    channelCount: format.channels,
    frames,
    async read(start, end) {
      if (!open) throw new Error(`${path}: read after close()`);
      checkFrameRange(this, start, end);
      const bytes = readBytes(fd, path, dataOffset + start * format.blockAlign, (end - start) * format.blockAlign);
      return decodeWavFrames(bytes, format, start, path);
    },
    async close() {
      if (open) closeSync(fd);
      open = false;
    },
  };
}

/** Decoded chunks of a compressed file, in order (each channel list as the codec returns it). */
async function* decodeChunks(path: string, codec: string, container: string): AsyncGenerator<{ sampleRate: number; channelData: Float32Array[] }> {
  const { decodeChunked } = await import('audio-decode');
  const label = container.toUpperCase();
  try {
    for await (const chunk of decodeChunked(createReadStream(path, { highWaterMark: CHUNK_BYTES }), codec as 'mp3')) yield chunk;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code) throw fileError(path, err);
    throw new Error(`${path}: could not decode ${label} audio: ${(err as Error).message ?? err}`);
  }
}

async function openCompressed(path: string, container: AudioContainer, codec: string, keepFrames: number): Promise<AudioSource> {
  const label = container.toUpperCase();
  // Pass 1: rate, channels and length; the samples are kept while the file is short.
  let sampleRate = 0;
  let channelCount = 0;
  let frames = 0;
  let kept: Float32Array[][] | null = [];
  for await (const chunk of decodeChunks(path, codec, container)) {
    if (sampleRate === 0) sampleRate = chunk.sampleRate;
    else if (chunk.sampleRate !== sampleRate) throw new Error(`${path}: ${label} sample rate changes from ${sampleRate} to ${chunk.sampleRate} Hz mid-file`);
    channelCount = Math.max(channelCount, chunk.channelData.length);
    frames += chunk.channelData[0].length;
    if (kept && frames <= keepFrames) kept.push(chunk.channelData.map((ch) => ch.slice()));
    else kept = null;
  }
  if (channelCount === 0 || !(sampleRate > 0)) throw new Error(`${path}: ${label} decoder returned no audio (corrupt or empty file?)`);
  checkSampleRate(sampleRate, path);
  if (frames === 0) throw new Error(`${path}: ${label} audio holds no samples (an empty clip)`);
  let open = true;
  const source: AudioSource = {
    source: path,
    sampleRate,
    channelCount,
    frames,
    async read(start, end) {
      if (!open) throw new Error(`${path}: read after close()`);
      checkFrameRange(source, start, end);
      const out = Array.from({ length: channelCount }, () => new Float32Array(end - start));
      let at = 0;
      const copy = (channelData: Float32Array[]) => {
        const n = channelData[0].length;
        const from = Math.max(start, at);
        const to = Math.min(end, at + n);
        // A codec that returns fewer channels for a chunk (an MP3 decoder folding dual mono) repeats them, as audio-decode's merge does.
        if (to > from) out.forEach((ch, c) => ch.set(channelData[c % channelData.length].subarray(from - at, to - at), from - start));
        at += n;
      };
      if (kept) {
        for (const chunk of kept) {
          if (at >= end) break;
          copy(chunk);
        }
      } else {
        for await (const chunk of decodeChunks(path, codec, container)) {
          copy(chunk.channelData);
          if (at >= end) break;
        }
      }
      if (at < end) throw new Error(`${path}: ${label} audio ended at frame ${at} on the second decode, the first gave ${frames} frames`);
      return { sampleRate, channels: out };
    },
    async close() {
      open = false;
      kept = null;
    },
  };
  return source;
}
