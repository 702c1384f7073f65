/**
 * Reading audio files: WAV through our own decoder (./wav.ts), FLAC / MP3 / OGG (Vorbis, Opus) through
 * the `audio-decode` library. The container is recognised from the file's first bytes, not its name.
 */
import type { AudioClip } from './clip.js';
import { checkSampleRate, decodeWav, looksLikeWav } from './wav.js';

export type AudioContainer = 'wav' | 'flac' | 'mp3' | 'ogg';

/** Recognises the container from magic bytes; null when it is none of WAV / FLAC / MP3 / OGG. */
export function sniffAudioContainer(bytes: Uint8Array): AudioContainer | null {
  const ascii = (at: number, n: number) => String.fromCharCode(...bytes.subarray(at, at + n));
  if (looksLikeWav(bytes) || (bytes.length >= 4 && ascii(0, 4) === 'RIFF')) return 'wav';
  if (bytes.length >= 4 && ascii(0, 4) === 'fLaC') return 'flac';
  if (bytes.length >= 4 && ascii(0, 4) === 'OggS') return 'ogg';
  if (bytes.length >= 3 && ascii(0, 3) === 'ID3') return 'mp3';
  // An MPEG audio frame header starts with 11 set bits (frame sync), layer bits not 00.
  if (bytes.length >= 2 && bytes[0] === 0xff && (bytes[1] & 0xe0) === 0xe0 && (bytes[1] & 0x06) !== 0) return 'mp3';
  return null;
}

/** Decodes audio bytes of any supported container. `source` is named in errors. */
export async function decodeAudio(bytes: Uint8Array, source = '<buffer>'): Promise<AudioClip> {
  const container = sniffAudioContainer(bytes);
  if (container === null) {
    const head = Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new Error(
      `${source}: not a recognised audio file (expected WAV, FLAC, MP3 or OGG; ${bytes.length} bytes starting ${head || '(empty)'})`,
    );
  }
  if (container === 'wav') return decodeWav(bytes, source);
  // Lazy import: the WASM decoders are only loaded when a compressed file is actually read.
  const { default: decode } = await import('audio-decode');
  let decoded: { channelData: Float32Array[]; sampleRate: number };
  try {
    decoded = await decode(bytes);
  } catch (err) {
    throw new Error(`${source}: could not decode ${container.toUpperCase()} audio: ${(err as Error).message ?? err}`);
  }
  if (!decoded || !Array.isArray(decoded.channelData) || decoded.channelData.length === 0 || !(decoded.sampleRate > 0)) {
    throw new Error(`${source}: ${container.toUpperCase()} decoder returned no audio (corrupt or empty file?)`);
  }
  checkSampleRate(decoded.sampleRate, source);
  if (decoded.channelData[0].length === 0) throw new Error(`${source}: ${container.toUpperCase()} audio holds no samples (an empty clip)`);
  // Copy into plain Float32Arrays we own (decoders may hand out views of a shared WASM heap).
  return { sampleRate: decoded.sampleRate, channels: decoded.channelData.map((ch) => Float32Array.from(ch)) };
}
