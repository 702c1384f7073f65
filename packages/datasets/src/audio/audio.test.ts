import { describe, expect, it } from 'vitest';
import { readFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeAudioFile, decodeWav, encodeWav, writeWav, resample, flattenChannels, downmixMean, sniffAudioContainer } from './index.js';

const FIX = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'audio');

function readF32(path: string): Float32Array {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

describe('WAV decoding (fixtures written byte by byte by tools/datasets_audio_fixtures.py)', () => {
  const index = JSON.parse(readFileSync(join(FIX, 'wav.json'), 'utf8')) as {
    files: { file: string; sampleRate: number; channels: number; samples: number[][] }[];
  };
  for (const f of index.files) {
    it(`decodes ${f.file}`, async () => {
      const clip = await decodeAudioFile(join(FIX, 'wav', f.file));
      expect(clip.sampleRate).toBe(f.sampleRate);
      expect(clip.channels.length).toBe(f.channels);
      for (let c = 0; c < f.channels; c++) {
        // Expected values are exact fractions int / 2^(bits-1) (or float32 values): compare exactly after float32 rounding.
        expect(Array.from(clip.channels[c])).toEqual(Array.from(Float32Array.from(f.samples[c])));
      }
    });
  }
  it('PCM extremes map to -1 and (2^(b-1)-1)/2^(b-1)', async () => {
    const clip = await decodeAudioFile(join(FIX, 'wav', 'pcm16_mono.wav'));
    expect(clip.channels[0][0]).toBe(-1);
    expect(clip.channels[0][1]).toBe(32767 / 32768);
  });
});

describe('WAV bad input', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mats-wav-'));
  it('names the file for a non-audio file', async () => {
    const p = join(dir, 'notes.wav');
    writeFileSync(p, 'this is a text file, not audio\n');
    await expect(decodeAudioFile(p)).rejects.toThrow(`${p}: not a recognised audio file`);
  });
  it('a truncated WAV says how many bytes were declared and found', async () => {
    const full = readFileSync(join(FIX, 'wav', 'pcm16_mono.wav'));
    const p = join(dir, 'cut.wav');
    writeFileSync(p, full.subarray(0, full.length - 10));
    await expect(decodeAudioFile(p)).rejects.toThrow(`${p}: truncated WAV: the data chunk declares 48 bytes but only 38 follow`);
  });
  it('a WAV cut inside the header', async () => {
    const full = readFileSync(join(FIX, 'wav', 'pcm16_mono.wav'));
    const p = join(dir, 'header.wav');
    writeFileSync(p, full.subarray(0, 30));
    await expect(decodeAudioFile(p)).rejects.toThrow(/header\.wav: truncated or malformed "fmt " chunk/);
  });
  it('an unsupported sample format is named', async () => {
    const p = join(FIX, 'wav', 'bad_alaw.wav');
    await expect(decodeAudioFile(p)).rejects.toThrow(`${p}: unsupported WAV sample format: format code 0x6 with 8 bits per sample`);
  });
  it('a RIFF file that is not WAVE', () => {
    const bytes = new Uint8Array(16);
    bytes.set([0x52, 0x49, 0x46, 0x46, 8, 0, 0, 0, 0x41, 0x56, 0x49, 0x20]);
    expect(() => decodeWav(bytes, 'movie.avi')).toThrow('movie.avi: not a WAV file: expected "RIFF....WAVE"');
  });
  it('a missing file', async () => {
    await expect(decodeAudioFile(join(dir, 'nope.wav'))).rejects.toThrow(/nope\.wav: cannot read audio file \(ENOENT\)/);
  });
});

describe('WAV writing', () => {
  it('PCM16 round trip is bit-exact', () => {
    const n = 5000;
    const ints = new Int16Array(n);
    for (let i = 0; i < n; i++) ints[i] = ((i * 7919) % 65536) - 32768;
    const left = Float32Array.from(ints, (v) => v / 32768);
    const right = Float32Array.from(ints, (v) => -Math.max(v, -32767) / 32768);
    const bytes = encodeWav({ sampleRate: 16000, channels: [left, right] });
    const back = decodeWav(bytes);
    expect(back.sampleRate).toBe(16000);
    expect(back.channels[0]).toEqual(left);
    expect(back.channels[1]).toEqual(right);
    // And the integers on disk are the ones we started from.
    const view = new DataView(bytes.buffer, 44);
    for (let i = 0; i < n; i++) expect(view.getInt16(4 * i, true)).toBe(ints[i]);
  });
  it('PCM16 clips out-of-range values; float32 keeps them', () => {
    const x = Float32Array.from([1.5, -2, 0.25]);
    expect(Array.from(decodeWav(encodeWav({ sampleRate: 8000, channels: [x] })).channels[0])).toEqual([32767 / 32768, -1, 0.25]);
    expect(decodeWav(encodeWav({ sampleRate: 8000, channels: [x] }, { format: 'float32' })).channels[0]).toEqual(x);
  });
  it('the header matches the canonical 44-byte layout', () => {
    const b = encodeWav({ sampleRate: 44100, channels: [new Float32Array(3), new Float32Array(3)] });
    const v = new DataView(b.buffer);
    expect(String.fromCharCode(...b.subarray(0, 4))).toBe('RIFF');
    expect(v.getUint32(4, true)).toBe(36 + 12);
    expect(v.getUint16(22, true)).toBe(2);
    expect(v.getUint32(24, true)).toBe(44100);
    expect(v.getUint32(28, true)).toBe(44100 * 4);
    expect(v.getUint16(32, true)).toBe(4);
    expect(v.getUint16(34, true)).toBe(16);
    expect(v.getUint32(40, true)).toBe(12);
  });
  it('writeWav + decodeAudioFile', async () => {
    const p = join(mkdtempSync(join(tmpdir(), 'mats-wav-')), 'sub', 'a.wav');
    const x = Float32Array.from([0, 0.5, -0.5, 0.125]);
    writeWav(p, { sampleRate: 16000, channels: [x] });
    expect((await decodeAudioFile(p)).channels[0]).toEqual(x);
  });
  it('rejects NaN and ragged channels', () => {
    expect(() => encodeWav({ sampleRate: 8000, channels: [Float32Array.from([0, NaN])] })).toThrow('channel 0 sample 1 is NaN');
    expect(() => encodeWav({ sampleRate: 8000, channels: [new Float32Array(2), new Float32Array(3)] })).toThrow('channel 1 has 3 samples');
  });
});

describe('other containers through audio-decode', () => {
  it('decodes a FLAC file to the samples it was written with (audio-decode scales 16-bit by 1/32767)', async () => {
    const ref = JSON.parse(readFileSync(join(FIX, 'flac.json'), 'utf8')) as { sampleRate: number; samples: number[][] };
    const clip = await decodeAudioFile(join(FIX, 'flac', 'tone16.flac'));
    expect(clip.sampleRate).toBe(ref.sampleRate);
    expect(clip.channels.length).toBe(2);
    for (let c = 0; c < 2; c++) {
      expect(clip.channels[c].length).toBe(ref.samples[c].length);
      for (let i = 0; i < ref.samples[c].length; i++) {
        expect(Math.round(clip.channels[c][i] * 32767)).toBe(Math.round(ref.samples[c][i] * 32768));
      }
    }
  });
  it('decodes MP3 and Ogg Vorbis files to their tones (fixtures from tools/datasets_compressed_fixtures.mjs)', async () => {
    const meta = JSON.parse(readFileSync(join(FIX, 'compressed', 'compressed.json'), 'utf8')) as { sampleRate: number; tones: number[]; amplitude: number; files: string[] };
    for (const file of meta.files) {
      const clip = await decodeAudioFile(join(FIX, 'compressed', file));
      expect(clip.sampleRate, file).toBe(meta.sampleRate);
      expect(clip.channels.length, file).toBe(2);
      // Lossy codecs add encoder delay / padding: the length is at least the original and within ~0.1 s of it.
      expect(clip.channels[0].length).toBeGreaterThanOrEqual(meta.sampleRate);
      expect(clip.channels[0].length).toBeLessThan(meta.sampleRate * 1.1);
      for (let c = 0; c < 2; c++) {
        const x = clip.channels[c];
        // Least-squares fit of each channel's own tone and of the other channel's tone over the steady middle part.
        const fit = (freq: number) => {
          let ss = 0, sc = 0, cc = 0, xs = 0, xc = 0;
          for (let i = 3000; i < 19000; i++) {
            const a = Math.sin((2 * Math.PI * freq * i) / meta.sampleRate), b = Math.cos((2 * Math.PI * freq * i) / meta.sampleRate);
            ss += a * a; sc += a * b; cc += b * b; xs += x[i] * a; xc += x[i] * b;
          }
          const det = ss * cc - sc * sc;
          return Math.hypot((xs * cc - xc * sc) / det, (xc * ss - xs * sc) / det);
        };
        expect(Math.abs(fit(meta.tones[c]) - meta.amplitude), `${file} channel ${c}`).toBeLessThan(0.03);
        expect(fit(meta.tones[1 - c]), `${file} channel ${c} crosstalk`).toBeLessThan(0.01);
      }
    }
  });
  it('recognises containers by magic bytes', () => {
    const b = (s: string) => new Uint8Array([...s].map((ch) => ch.charCodeAt(0)));
    expect(sniffAudioContainer(b('fLaC....'))).toBe('flac');
    expect(sniffAudioContainer(b('OggS....'))).toBe('ogg');
    expect(sniffAudioContainer(b('ID3.....'))).toBe('mp3');
    expect(sniffAudioContainer(new Uint8Array([0xff, 0xfb, 0x90, 0x00]))).toBe('mp3');
    expect(sniffAudioContainer(b('hello'))).toBe(null);
  });
  it('a corrupt FLAC is an error naming the file', async () => {
    const p = join(mkdtempSync(join(tmpdir(), 'mats-flac-')), 'bad.flac');
    writeFileSync(p, Buffer.concat([Buffer.from('fLaC'), Buffer.alloc(40, 7)]));
    await expect(decodeAudioFile(p)).rejects.toThrow(/bad\.flac: .*FLAC/);
  });
});

describe('resample (torchaudio default Resample)', () => {
  const index = JSON.parse(readFileSync(join(FIX, 'resample.json'), 'utf8')) as {
    cases: { name: string; fromRate: number; toRate: number; outputLength: number }[];
  };
  for (const c of index.cases) {
    it(`matches the torch reference for ${c.fromRate} -> ${c.toRate} Hz`, () => {
      const x = readF32(join(FIX, 'resample', `${c.name}.in.f32`));
      const want = readF32(join(FIX, 'resample', `${c.name}.out.f32`));
      const got = resample(x, c.fromRate, c.toRate);
      expect(got.length).toBe(c.outputLength);
      let maxErr = 0;
      for (let i = 0; i < want.length; i++) maxErr = Math.max(maxErr, Math.abs(got[i] - want[i]));
      expect(maxErr).toBeLessThan(2e-6);
    });
  }

  function sine(rate: number, freq: number, seconds: number, amp = 0.8): Float32Array {
    return Float32Array.from({ length: Math.round(rate * seconds) }, (_, i) => amp * Math.sin((2 * Math.PI * freq * i) / rate));
  }
  /** Amplitude and phase of `freq` in x by least squares on sin/cos (interior samples only). */
  function fitSine(x: Float32Array, rate: number, freq: number, skip: number) {
    let ss = 0, sc = 0, cc = 0, xs = 0, xc = 0;
    for (let i = skip; i < x.length - skip; i++) {
      const s = Math.sin((2 * Math.PI * freq * i) / rate), co = Math.cos((2 * Math.PI * freq * i) / rate);
      ss += s * s; sc += s * co; cc += co * co; xs += x[i] * s; xc += x[i] * co;
    }
    const det = ss * cc - sc * sc;
    const a = (xs * cc - xc * sc) / det;
    const b = (xc * ss - xs * sc) / det;
    return Math.hypot(a, b);
  }
  function rms(x: Float32Array, skip: number): number {
    let s = 0;
    for (let i = skip; i < x.length - skip; i++) s += x[i] * x[i];
    return Math.sqrt(s / (x.length - 2 * skip));
  }

  it('a 1 kHz sine keeps its frequency and amplitude (44.1 kHz -> 16 kHz and back up)', () => {
    const x = sine(44100, 1000, 0.5);
    const down = resample(x, 44100, 16000);
    expect(down.length).toBe(8000);
    expect(fitSine(down, 16000, 1000, 200)).toBeCloseTo(0.8, 3);
    // Residual after removing the fitted sine is tiny: no other frequency was created.
    const ref = sine(16000, 1000, 0.5);
    let err = 0;
    for (let i = 200; i < 7800; i++) err = Math.max(err, Math.abs(down[i] - ref[i]));
    expect(err).toBeLessThan(2e-3);
    const up = resample(down, 16000, 44100);
    expect(up.length).toBe(22050);
    expect(Math.abs(fitSine(up, 44100, 1000, 600) - 0.8)).toBeLessThan(0.002);
  });
  it('content above the new Nyquist is suppressed', () => {
    const x = sine(44100, 10000, 0.5); // 10 kHz > 8 kHz Nyquist of 16 kHz
    const down = resample(x, 44100, 16000);
    expect(rms(down, 200)).toBeLessThan(0.8 * 0.01);
  });
  it('equal rates return the input; bad rates are errors', () => {
    const x = new Float32Array(10);
    expect(resample(x, 16000, 16000)).toBe(x);
    expect(() => resample(x, 0, 16000)).toThrow('fromRate must be a positive integer');
    expect(() => resample(x, 16000, 44100.5)).toThrow('toRate must be a positive integer');
  });
});

describe('channel helpers', () => {
  it('flatten is channel after channel (msclap reshape(-1)); downmix is the mean', () => {
    const clip = { sampleRate: 8000, channels: [Float32Array.from([1, 2]), Float32Array.from([3, 5])] };
    expect(Array.from(flattenChannels(clip))).toEqual([1, 2, 3, 5]);
    expect(Array.from(downmixMean(clip))).toEqual([2, 3.5]);
  });
});

describe('WAV headers that lie, empty and non-finite clips', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mats-wav-bounds-'));
  /** A 16-bit mono WAV of `frames` samples whose header claims `rate` Hz. */
  const wavAt = (rate: number, frames = 4): Buffer => {
    const bytes = Buffer.from(encodeWav({ sampleRate: 16000, channels: [new Float32Array(frames).fill(0.25)] }));
    bytes.writeUInt32LE(rate, 24); // sample rate field of the canonical 44-byte header
    bytes.writeUInt32LE((rate * 2) % 2 ** 32, 28); // byte rate
    return bytes;
  };
  it('a claimed 1 Hz or 4 GHz is an error naming the file, found at once', async () => {
    for (const rate of [1, 999, 384001, 4_000_000_000]) {
      const p = join(dir, `rate-${rate}.wav`);
      writeFileSync(p, wavAt(rate));
      await expect(decodeAudioFile(p)).rejects.toThrow(`${p}: sample rate ${rate} Hz is outside 1000-384000 Hz (a corrupt header?)`);
    }
  });
  it('the bounds themselves decode', async () => {
    for (const rate of [1000, 8000, 384000]) {
      const p = join(dir, `ok-${rate}.wav`);
      writeFileSync(p, wavAt(rate));
      expect((await decodeAudioFile(p)).sampleRate).toBe(rate);
    }
  });
  it('an empty data chunk names the file', async () => {
    const p = join(dir, 'empty.wav');
    const full = Buffer.from(encodeWav({ sampleRate: 16000, channels: [new Float32Array(1)] }));
    const empty = Buffer.concat([full.subarray(0, 44)]);
    empty.writeUInt32LE(0, 40);
    empty.writeUInt32LE(36, 4);
    writeFileSync(p, empty);
    await expect(decodeAudioFile(p)).rejects.toThrow(`${p}: the WAV data chunk holds no samples (an empty clip)`);
  });
  it('a NaN in a float WAV names the file, sample and channel', async () => {
    const p = join(dir, 'nan.wav');
    writeWav(p, { sampleRate: 16000, channels: [new Float32Array([0, 0.5, NaN, 0])] }, { format: 'float32' });
    await expect(decodeAudioFile(p)).rejects.toThrow(`${p}: float sample 2 of channel 0 is NaN (a corrupt file)`);
  });
});
