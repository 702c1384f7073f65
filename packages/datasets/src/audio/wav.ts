/**
 * WAV (RIFF/WAVE) decoding and encoding, written here so that every failure names the file and the
 * problem: not RIFF, truncated, unsupported sample format. Supports PCM 8/16/24/32-bit integer,
 * IEEE float 32/64-bit, mono and multi-channel, and WAVE_FORMAT_EXTENSIBLE (whose sub-format GUID
 * carries the real format code).
 */
import type { AudioClip } from './clip.js';

/**
 * Sample rates a decoded clip may have (Hz): below 1 kHz or above 384 kHz a header is corrupt or
 * hostile (1 Hz would make resampling to 44.1 kHz allocate gigabytes; 4 GHz would shrink a clip to
 * one sample), so decoding stops with an error naming the file.
 */
export const SAMPLE_RATE_BOUNDS = { min: 1000, max: 384000 } as const;

/** Throws, naming the source, when a sample rate is outside SAMPLE_RATE_BOUNDS. */
export function checkSampleRate(sampleRate: number, source: string): void {
  if (!(sampleRate >= SAMPLE_RATE_BOUNDS.min && sampleRate <= SAMPLE_RATE_BOUNDS.max)) {
    throw new Error(`${source}: sample rate ${sampleRate} Hz is outside ${SAMPLE_RATE_BOUNDS.min}-${SAMPLE_RATE_BOUNDS.max} Hz (a corrupt header?)`);
  }
}

const WAVE_FORMAT_PCM = 0x0001;
const WAVE_FORMAT_IEEE_FLOAT = 0x0003;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;

/** Where the bytes came from, for error messages ("<buffer>" when not from a file). */
function where(source: string | undefined): string {
  return source ?? '<buffer>';
}

function fourcc(bytes: Uint8Array, offset: number): string {
  return String.fromCharCode(bytes[offset], bytes[offset + 1], bytes[offset + 2], bytes[offset + 3]);
}

/** True when the bytes start like a RIFF/WAVE file. */
export function looksLikeWav(bytes: Uint8Array): boolean {
  return bytes.length >= 12 && fourcc(bytes, 0) === 'RIFF' && fourcc(bytes, 8) === 'WAVE';
}

/** The sample format of a WAV file's "fmt " chunk. */
export interface WavFormat {
  formatCode: number;
  channels: number;
  sampleRate: number;
  blockAlign: number;
  bitsPerSample: number;
}

/** Where a WAV file's samples are: its format, the byte offset of the data chunk's body and its frames. */
export interface WavLayout {
  format: WavFormat;
  dataOffset: number;
  frames: number;
}

/**
 * Reads a WAV file's chunk headers through `readAt(offset, length)` (bytes of a file of `size` bytes)
 * without touching the samples, and checks them: every error names `source`.
 */
export function parseWavLayout(size: number, readAt: (offset: number, length: number) => Uint8Array, source?: string): WavLayout {
  const name = where(source);
  if (size < 12) {
    throw new Error(`${name}: not a WAV file: ${size} bytes, a RIFF/WAVE header needs at least 12`);
  }
  const head = readAt(0, 12);
  if (fourcc(head, 0) !== 'RIFF' || fourcc(head, 8) !== 'WAVE') {
    const hex = Array.from(head, (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new Error(`${name}: not a WAV file: expected "RIFF....WAVE" at byte 0, got ${hex}`);
  }
  let format: WavFormat | null = null;
  let offset = 12;
  while (offset + 8 <= size) {
    const header = readAt(offset, 8);
    const id = fourcc(header, 0);
    const chunkSize = new DataView(header.buffer, header.byteOffset, 8).getUint32(4, true);
    const body = offset + 8;
    if (id === 'fmt ') {
      if (chunkSize < 16 || body + chunkSize > size) {
        throw new Error(`${name}: truncated or malformed "fmt " chunk at byte ${offset}: size ${chunkSize}, ${size - body} bytes left`);
      }
      const bytes = readAt(body, chunkSize);
      format = readFormat(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), 0, chunkSize, name);
    } else if (id === 'data') {
      if (!format) throw new Error(`${name}: "data" chunk at byte ${offset} comes before any "fmt " chunk`);
      const available = size - body;
      if (chunkSize > available) {
        throw new Error(`${name}: truncated WAV: the data chunk declares ${chunkSize} bytes but only ${available} follow (byte ${body})`);
      }
      if (chunkSize % format.blockAlign !== 0) {
        throw new Error(`${name}: truncated WAV: data chunk of ${chunkSize} bytes is not a whole number of ${format.blockAlign}-byte frames`);
      }
      const frames = chunkSize / format.blockAlign;
      if (frames === 0) throw new Error(`${name}: the WAV data chunk holds no samples (an empty clip)`);
      return { format, dataOffset: body, frames };
    }
    // Chunks are padded to an even number of bytes.
    offset = body + chunkSize + (chunkSize & 1);
  }
  if (!format) throw new Error(`${name}: truncated WAV: no "fmt " chunk found in ${size} bytes`);
  throw new Error(`${name}: truncated WAV: no "data" chunk found in ${size} bytes`);
}

/** Decodes a WAV file's bytes. `source` (usually the path) is named in every error. */
export function decodeWav(bytes: Uint8Array, source?: string): AudioClip {
  const { format, dataOffset, frames } = parseWavLayout(bytes.length, (at, n) => bytes.subarray(at, at + n), source);
  return decodeWavFrames(bytes.subarray(dataOffset, dataOffset + frames * format.blockAlign), format, 0, source);
}

function readFormat(view: DataView, at: number, size: number, name: string): WavFormat {
  let formatCode = view.getUint16(at, true);
  const channels = view.getUint16(at + 2, true);
  const sampleRate = view.getUint32(at + 4, true);
  const blockAlign = view.getUint16(at + 12, true);
  const bitsPerSample = view.getUint16(at + 14, true);
  if (formatCode === WAVE_FORMAT_EXTENSIBLE) {
    if (size < 40) throw new Error(`${name}: WAVE_FORMAT_EXTENSIBLE "fmt " chunk is ${size} bytes, expected at least 40`);
    // The first two bytes of the sub-format GUID are the actual format code.
    formatCode = view.getUint16(at + 24, true);
  }
  if (channels === 0) throw new Error(`${name}: "fmt " chunk declares 0 channels`);
  if (sampleRate === 0) throw new Error(`${name}: "fmt " chunk declares sample rate 0`);
  checkSampleRate(sampleRate, name);
  const supported =
    (formatCode === WAVE_FORMAT_PCM && [8, 16, 24, 32].includes(bitsPerSample)) ||
    (formatCode === WAVE_FORMAT_IEEE_FLOAT && (bitsPerSample === 32 || bitsPerSample === 64));
  if (!supported) {
    const kind = formatCode === WAVE_FORMAT_PCM ? 'PCM' : formatCode === WAVE_FORMAT_IEEE_FLOAT ? 'IEEE float' : `format code 0x${formatCode.toString(16)}`;
    throw new Error(
      `${name}: unsupported WAV sample format: ${kind} with ${bitsPerSample} bits per sample ` +
        `(supported: PCM 8/16/24/32-bit, IEEE float 32/64-bit)`,
    );
  }
  const expectedAlign = (channels * bitsPerSample) / 8;
  if (blockAlign !== expectedAlign) {
    throw new Error(`${name}: "fmt " chunk block align is ${blockAlign}, expected ${expectedAlign} for ${channels} channel(s) of ${bitsPerSample} bits`);
  }
  return { formatCode, channels, sampleRate, blockAlign, bitsPerSample };
}

/**
 * Decodes whole frames of WAV sample data: `data` holds frames [firstFrame, firstFrame + n) of a
 * file (n = data.length / blockAlign); errors name the source and the frame's index in the file.
 */
export function decodeWavFrames(data: Uint8Array, format: WavFormat, firstFrame = 0, source?: string): AudioClip {
  const name = where(source);
  const { channels, blockAlign, bitsPerSample, formatCode } = format;
  if (data.length % blockAlign !== 0) throw new Error(`${name}: ${data.length} bytes of WAV data are not a whole number of ${blockAlign}-byte frames`);
  const frames = data.length / blockAlign;
  const out = Array.from({ length: channels }, () => new Float32Array(frames));
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const bytesPer = bitsPerSample / 8;
  for (let c = 0; c < channels; c++) {
    const ch = out[c];
    let p = c * bytesPer;
    if (formatCode === WAVE_FORMAT_IEEE_FLOAT) {
      if (bitsPerSample === 32) for (let i = 0; i < frames; i++, p += blockAlign) ch[i] = view.getFloat32(p, true);
      else for (let i = 0; i < frames; i++, p += blockAlign) ch[i] = view.getFloat64(p, true);
    } else if (bitsPerSample === 8) {
      // 8-bit WAV is unsigned with 128 as silence.
      for (let i = 0; i < frames; i++, p += blockAlign) ch[i] = (data[p] - 128) / 128;
    } else if (bitsPerSample === 16) {
      for (let i = 0; i < frames; i++, p += blockAlign) ch[i] = view.getInt16(p, true) / 32768;
    } else if (bitsPerSample === 24) {
      for (let i = 0; i < frames; i++, p += blockAlign) {
        const v = data[p] | (data[p + 1] << 8) | (data[p + 2] << 16);
        ch[i] = ((v << 8) >> 8) / 8388608;
      }
    } else {
      for (let i = 0; i < frames; i++, p += blockAlign) ch[i] = view.getInt32(p, true) / 2147483648;
    }
  }
  if (formatCode === WAVE_FORMAT_IEEE_FLOAT) {
    for (let c = 0; c < channels; c++) {
      const ch = out[c];
      for (let i = 0; i < frames; i++) {
        if (!Number.isFinite(ch[i])) throw new Error(`${name}: float sample ${firstFrame + i} of channel ${c} is ${ch[i]} (a corrupt file)`);
      }
    }
  }
  return { sampleRate: format.sampleRate, channels: out };
}

export type WavSampleFormat = 'pcm16' | 'float32';

export interface WavEncodeOptions {
  /** Default 'pcm16'. PCM16 scales by 32768 and clips to [-32768, 32767], so decode(encode(x)) is exact for x on that grid. */
  format?: WavSampleFormat;
}

/** Encodes a clip as a WAV file (PCM16 or float32, interleaved). */
export function encodeWav(clip: AudioClip, options: WavEncodeOptions = {}): Uint8Array {
  const format = options.format ?? 'pcm16';
  const channels = clip.channels.length;
  if (channels === 0) throw new Error('encodeWav: clip has no channels');
  if (!Number.isInteger(clip.sampleRate) || clip.sampleRate <= 0) throw new Error(`encodeWav: sample rate must be a positive integer, got ${clip.sampleRate}`);
  const frames = clip.channels[0].length;
  for (let c = 1; c < channels; c++) {
    if (clip.channels[c].length !== frames) throw new Error(`encodeWav: channel ${c} has ${clip.channels[c].length} samples, channel 0 has ${frames}`);
  }
  const bytesPer = format === 'pcm16' ? 2 : 4;
  const blockAlign = channels * bytesPer;
  const dataBytes = frames * blockAlign;
  const out = new Uint8Array(44 + dataBytes);
  const view = new DataView(out.buffer);
  const ascii = (at: number, s: string) => {
    for (let i = 0; i < 4; i++) out[at + i] = s.charCodeAt(i);
  };
  ascii(0, 'RIFF');
  view.setUint32(4, 36 + dataBytes, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, format === 'pcm16' ? WAVE_FORMAT_PCM : WAVE_FORMAT_IEEE_FLOAT, true);
  view.setUint16(22, channels, true);
  view.setUint32(24, clip.sampleRate, true);
  view.setUint32(28, clip.sampleRate * blockAlign, true);
  view.setUint16(32, blockAlign, true);
  view.setUint16(34, bytesPer * 8, true);
  ascii(36, 'data');
  view.setUint32(40, dataBytes, true);
  for (let c = 0; c < channels; c++) {
    const ch = clip.channels[c];
    let p = 44 + c * bytesPer;
    if (format === 'pcm16') {
      for (let i = 0; i < frames; i++, p += blockAlign) {
        const v = Math.round(ch[i] * 32768);
        if (Number.isNaN(v)) throw new Error(`encodeWav: channel ${c} sample ${i} is NaN`);
        view.setInt16(p, v > 32767 ? 32767 : v < -32768 ? -32768 : v, true);
      }
    } else {
      for (let i = 0; i < frames; i++, p += blockAlign) view.setFloat32(p, ch[i], true);
    }
  }
  return out;
}
