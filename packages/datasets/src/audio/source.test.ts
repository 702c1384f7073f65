import { describe, expect, it } from 'vitest';
import { closeSync, mkdtempSync, openSync, readFileSync, readdirSync, writeFileSync, writeSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '@mats/core';
import { clipSource, decodeAudio, decodeWav, encodeWav, openAudioFile, resample, resampleInputRange, resampleRange, resampledLength } from './index.js';

const FIX = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'audio');

function noise(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.uniform() * 2 - 1);
}

describe('resampleRange: part of a resampled signal from part of the input', () => {
  const cases: [number, number][] = [
    [44100, 16000],
    [16000, 44100],
    [22050, 16000],
    [48000, 44100],
    [8000, 16000],
    [16000, 8000],
  ];
  it.each(cases)('%i Hz -> %i Hz: equals the slice of the whole resampled signal, bit for bit, from the input range it asks for', (from, to) => {
    const x = noise(20011, from + to);
    const whole = resample(x, from, to);
    const n = resampledLength(x.length, from, to);
    expect(whole.length).toBe(n);
    const rng = new Rng(7);
    const ranges: [number, number][] = [[0, n], [0, 1], [n - 1, n], [0, 300], [n - 300, n], [5, 5]];
    for (let k = 0; k < 20; k++) {
      const a = rng.int(n);
      ranges.push([a, a + rng.int(n - a + 1)]);
    }
    for (const [a, b] of ranges) {
      const [lo, hi] = resampleInputRange(x.length, from, to, a, b);
      expect(lo).toBeGreaterThanOrEqual(0);
      expect(hi).toBeLessThanOrEqual(x.length);
      const got = resampleRange(x.slice(lo, hi), lo, x.length, from, to, a, b);
      expect(Array.from(got), `[${a}, ${b})`).toEqual(Array.from(whole.subarray(a, b)));
    }
  });
  it('the input range of a short output window is short (bounded by the kernel, not the signal)', () => {
    const [lo, hi] = resampleInputRange(44100 * 7200, 44100, 16000, 1_000_000, 1_032_000);
    expect(hi - lo).toBeLessThan(32000 * 3 + 200);
    expect(lo).toBeGreaterThan(2_700_000);
  });
  it('refuses a part that does not cover the inputs the range needs', () => {
    const x = noise(4000, 1);
    const [lo, hi] = resampleInputRange(x.length, 44100, 16000, 100, 200);
    expect(() => resampleRange(x.slice(lo + 1, hi), lo + 1, x.length, 44100, 16000, 100, 200)).toThrow(/input samples \[\d+, \d+\) are needed/);
    expect(() => resampleRange(x, 0, x.length, 44100, 16000, 0, 99999)).toThrow('is not within the 1452 resampled samples');
  });
});

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'mats-source-'));
}

describe('openAudioFile', () => {
  it('reads every WAV fixture range for range as decodeWav decodes the whole file', async () => {
    const dir = join(FIX, 'wav');
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.wav') && !f.startsWith('bad'))) {
      const whole = decodeWav(readFileSync(join(dir, file)), file);
      const source = await openAudioFile(join(dir, file));
      expect(source.frames, file).toBe(whole.channels[0].length);
      expect(source.channelCount, file).toBe(whole.channels.length);
      expect(source.sampleRate, file).toBe(whole.sampleRate);
      const n = source.frames;
      for (const [a, b] of [[0, n], [1, n - 1], [n - 3, n], [0, 0]] as [number, number][]) {
        const part = await source.read(a, b);
        part.channels.forEach((ch, c) => expect(Array.from(ch), `${file} [${a}, ${b}) channel ${c}`).toEqual(Array.from(whole.channels[c].subarray(a, b))));
      }
      await expect(source.read(0, n + 1)).rejects.toThrow(`${join(dir, file)}: cannot read frames [0, ${n + 1}) of a clip of ${n} frames`);
      await source.close();
      await expect(source.read(0, 1)).rejects.toThrow('read after close()');
    }
  });

  it('reads a 2-hour WAV by its header: only the requested frames are read, a NaN is named by its frame in the file', async () => {
    // 2 hours of 44.1 kHz stereo float32: a sparse 2.5 GB file (zeros) with a few written frames.
    const path = join(tmp(), 'two-hours.wav');
    const frames = 44100 * 7200;
    const header = encodeWav({ sampleRate: 44100, channels: [new Float32Array(0), new Float32Array(0)] }, { format: 'float32' });
    const view = new DataView(header.buffer);
    view.setUint32(4, 36 + frames * 8, true);
    view.setUint32(40, frames * 8, true);
    const fd = openSync(path, 'w');
    writeSync(fd, header, 0, 44, 0);
    ftruncateSync(fd, 44 + frames * 8);
    const at = 300_000_000;
    writeSync(fd, new Uint8Array(Float32Array.from([0.5, -0.25, 0.125, NaN]).buffer), 0, 16, 44 + at * 8);
    closeSync(fd);
    const source = await openAudioFile(path);
    expect([source.frames, source.channelCount, source.sampleRate]).toEqual([frames, 2, 44100]);
    const part = await source.read(at - 1, at + 1);
    expect(Array.from(part.channels[0])).toEqual([0, 0.5]);
    expect(Array.from(part.channels[1])).toEqual([0, -0.25]);
    await expect(source.read(at, at + 2)).rejects.toThrow(`${path}: float sample ${at + 1} of channel 1 is NaN (a corrupt file)`);
    await source.close();
  });

  it.each([
    ['flac', join('flac', 'tone16.flac')],
    ['mp3', join('compressed', 'tone_440_880.mp3')],
    ['ogg', join('compressed', 'tone_440_880.ogg')],
  ])('a %s file streamed (kept from the first pass, or decoded again for each read) gives the samples of the whole-file decode', async (_kind, file) => {
    const whole = await decodeAudio(readFileSync(join(FIX, file)), file);
    for (const keepFrames of [1 << 22, 0]) {
      const source = await openAudioFile(join(FIX, file), { keepFrames });
      expect(source.frames).toBe(whole.channels[0].length);
      expect(source.channelCount).toBe(whole.channels.length);
      expect(source.sampleRate).toBe(whole.sampleRate);
      const n = source.frames;
      for (const [a, b] of [[0, n], [Math.floor(n / 3), Math.floor(n / 2)], [n - 10, n]] as [number, number][]) {
        const part = await source.read(a, b);
        part.channels.forEach((ch, c) => expect(Array.from(ch), `${file} keep ${keepFrames} [${a}, ${b}) channel ${c}`).toEqual(Array.from(whole.channels[c].subarray(a, b))));
      }
      await source.close();
    }
  });

  it('a long MP3 (past keepFrames) is decoded again for each read: the frames of the whole-file decode', async () => {
    // 200 copies of the 1 s fixture, frame after frame: 4.7 M stereo frames at 22.05 kHz, more than the 2^22 kept.
    const one = readFileSync(join(FIX, 'compressed', 'tone_440_880.mp3'));
    const path = join(tmp(), 'long.mp3');
    const bytes = Buffer.concat(Array.from({ length: 200 }, () => one));
    writeFileSync(path, bytes);
    const whole = await decodeAudio(bytes, path);
    const source = await openAudioFile(path);
    expect(source.frames).toBe(whole.channels[0].length);
    expect(source.frames).toBeGreaterThan(1 << 22);
    for (const [a, b] of [[3_000_000, 3_050_000], [0, 1000], [source.frames - 500, source.frames]] as [number, number][]) {
      const part = await source.read(a, b);
      part.channels.forEach((ch, c) => expect(Array.from(ch), `[${a}, ${b}) channel ${c}`).toEqual(Array.from(whole.channels[c].subarray(a, b))));
    }
    await source.close();
  });

  it('names the path for a missing file, an unknown container and a corrupt compressed file', async () => {
    const dir = tmp();
    await expect(openAudioFile(join(dir, 'none.wav'))).rejects.toThrow(`${join(dir, 'none.wav')}: cannot read audio file (ENOENT)`);
    writeFileSync(join(dir, 'text.wav'), 'hello world');
    await expect(openAudioFile(join(dir, 'text.wav'))).rejects.toThrow(`${join(dir, 'text.wav')}: not a recognised audio file (expected WAV, FLAC, MP3 or OGG; 11 bytes starting 68 65 6c 6c 6f 20 77 6f)`);
    writeFileSync(join(dir, 'bad.flac'), Buffer.concat([Buffer.from('fLaC'), Buffer.alloc(200, 7)]));
    await expect(openAudioFile(join(dir, 'bad.flac'))).rejects.toThrow(new RegExp(`${join(dir, 'bad.flac')}: FLAC|${join(dir, 'bad.flac')}: could not decode FLAC`));
  });

  it('clipSource reads views of an in-memory clip', async () => {
    const clip = { sampleRate: 8000, channels: [Float32Array.from([1, 2, 3]), Float32Array.from([4, 5, 6])] };
    const source = clipSource(clip, 'mem');
    expect([source.frames, source.channelCount, source.source]).toEqual([3, 2, 'mem']);
    expect((await source.read(1, 3)).channels.map((c) => Array.from(c))).toEqual([[2, 3], [5, 6]]);
    await expect(source.read(2, 4)).rejects.toThrow('mem: cannot read frames [2, 4) of a clip of 3 frames');
  });
});
