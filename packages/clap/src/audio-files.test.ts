import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng, selectBackend, type Embeddings } from '@mats/core';
import { clipSource, decodeAudioFile, decodeWav, encodeWav, writeWav, type AudioClip } from '@mats/datasets';
import { MSCLAP_CLIP_SAMPLES, OnnxClap, TINY_CLAP_WORLD_DIR, TinyClap, embedAudioFiles, prepareSourceWaveform, prepareWaveform, type ChannelMode } from './index.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
let dir: string;

function tone(seconds: number, rate: number, channels: number, seed: number): AudioClip {
  const rng = new Rng(seed);
  const n = Math.round(seconds * rate);
  return {
    sampleRate: rate,
    channels: Array.from({ length: channels }, (_, c) => Float32Array.from({ length: n }, (_, i) => 0.4 * Math.sin((2 * Math.PI * (220 + 110 * c + 40 * seed) * i) / rate) + 0.05 * rng.normal())),
  };
}

function rows(e: Embeddings): number[][] {
  return Array.from({ length: e.rows }, (_, r) => Array.from(e.data.subarray(r * e.dim, (r + 1) * e.dim)));
}

beforeAll(async () => {
  await selectBackend('wasm');
  dir = mkdtempSync(join(tmpdir(), 'mats-clap-files-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('prepareSourceWaveform reads only the crop and gives prepareWaveform values', () => {
  const cases: [number, number, ChannelMode, number][] = [
    // rate, channels, channel mode, seconds (window: 1 s at 16 kHz)
    [44100, 2, 'flatten', 3.3],
    [44100, 2, 'mean', 3.3],
    [22050, 3, 'flatten', 0.45],
    [16000, 1, 'mean', 5],
    [8000, 2, 'flatten', 0.3],
    [48000, 1, 'mean', 0.5],
  ];
  it.each(cases)('%i Hz, %i channel(s), %s, %f s: same values and same draws as prepareWaveform on the whole clip', async (rate, channels, mode, seconds) => {
    const clip = tone(seconds, rate, channels, rate + channels);
    const options = { sampleRate: 16000, samples: 16000, channelMode: mode };
    const long = seconds * (mode === 'flatten' ? channels : 1) > 1;
    for (const seed of [0, 1, 2]) {
      const wantRng = new Rng(seed);
      const want = prepareWaveform(clip, wantRng, options);
      const rng = new Rng(seed);
      const reads: [number, number][] = [];
      const source = clipSource(clip, 'mem.wav');
      const counting = { ...source, read: (a: number, b: number) => (reads.push([a, b]), source.read(a, b)) };
      const got = await prepareSourceWaveform(counting, rng, options);
      expect(Array.from(got), `seed ${seed}`).toEqual(Array.from(want));
      expect(rng.int(1 << 30), 'the same draws').toBe(wantRng.int(1 << 30));
      const read = reads.reduce((n, [a, b]) => n + b - a, 0);
      // A long clip reads the window's frames and the resampling kernel's margins, a short one all of it.
      if (long) expect(read).toBeLessThan(rate + 1000);
      else expect(read).toBe(clip.channels[0].length);
    }
  });
  it('names the source for a NaN in the crop (its frame in the file) and for an empty source', async () => {
    const clip = tone(4, 16000, 1, 3);
    const start = new Rng(0).int(clip.channels[0].length - 16000);
    clip.channels[0][start + 5] = NaN;
    await expect(prepareSourceWaveform(clipSource(clip, '/data/a.wav'), new Rng(0), { sampleRate: 16000, samples: 16000 })).rejects.toThrow(`/data/a.wav: channel 0 sample ${start + 5} is NaN`);
    await expect(prepareSourceWaveform(clipSource({ sampleRate: 16000, channels: [new Float32Array(0)] }, '/data/e.wav'), new Rng(0))).rejects.toThrow('/data/e.wav: is empty (0 samples)');
  });
});

describe('TinyClap.embedAudioFiles', () => {
  let clap: TinyClap;
  beforeAll(() => {
    clap = TinyClap.load(TINY_CLAP_WORLD_DIR, { batchSize: 2 });
  });
  afterAll(() => clap.dispose());

  it('gives embedAudio rows of the decoded files bit for bit (short, long, stereo, other rates, float WAV)', async () => {
    const files = [
      ['short.wav', tone(0.7, 16000, 1, 1), 'pcm16'],
      ['long-stereo.wav', tone(9, 44100, 2, 2), 'pcm16'],
      ['float.wav', tone(3.1, 22050, 1, 3), 'float32'],
      ['exact.wav', tone(2, 16000, 1, 4), 'pcm16'],
      ['three.wav', tone(5, 48000, 3, 5), 'pcm16'],
    ] as const;
    const paths = files.map(([name, clip, format]) => {
      writeWav(join(dir, name), clip, { format });
      return join(dir, name);
    });
    const decoded = await Promise.all(paths.map((p) => decodeAudioFile(p)));
    const a = await TinyClap.load(TINY_CLAP_WORLD_DIR, { batchSize: 2, seed: 5 }).embedAudio(decoded);
    const b = await TinyClap.load(TINY_CLAP_WORLD_DIR, { batchSize: 2, seed: 5 }).embedAudioFiles(paths);
    expect(rows(b)).toEqual(rows(a));
    // Through the helper (the encoder's own route) and through the fallback of an encoder without one.
    const c = await embedAudioFiles(TinyClap.load(TINY_CLAP_WORLD_DIR, { batchSize: 2, seed: 5 }), paths);
    expect(rows(c)).toEqual(rows(a));
    const plain = TinyClap.load(TINY_CLAP_WORLD_DIR, { batchSize: 2, seed: 5 });
    const d = await embedAudioFiles({ dim: plain.dim, embedAudio: (clips) => plain.embedAudio(clips), embedText: (t) => plain.embedText(t), dispose: () => plain.dispose() }, paths);
    expect(rows(d)).toEqual(rows(a));
  });

  it('names the file of an empty, NaN or unreadable clip (not an index)', async () => {
    const good = join(dir, 'good.wav');
    writeWav(good, tone(1, 16000, 1, 1));
    const nan = join(dir, 'nan.wav');
    const clip = tone(1, 16000, 1, 2);
    clip.channels[0][123] = Number.POSITIVE_INFINITY;
    writeWav(nan, clip, { format: 'float32' });
    const empty = join(dir, 'empty.wav');
    writeSync(openSync(empty, 'w'), encodeWav({ sampleRate: 16000, channels: [new Float32Array(0)] }));
    await expect(clap.embedAudioFiles([good, nan])).rejects.toThrow(`${nan}: float sample 123 of channel 0 is Infinity (a corrupt file)`);
    await expect(clap.embedAudioFiles([good, empty])).rejects.toThrow(`${empty}: the WAV data chunk holds no samples (an empty clip)`);
    await expect(clap.embedAudioFiles([join(dir, 'missing.wav')])).rejects.toThrow(`${join(dir, 'missing.wav')}: cannot read audio file (ENOENT)`);
  });

  it('embeds a 2-hour WAV in bounded memory, with the embedding of its crop', async () => {
    // 2 hours of 16 kHz mono PCM16 (the model's rate): a sparse 230 MB file, noise written only where the crop falls.
    const path = join(dir, 'two-hours.wav');
    const frames = 16000 * 7200;
    const samples = clap.clipSamples;
    const start = new Rng(11).int(frames - samples);
    const crop = tone(samples / 16000, 16000, 1, 9);
    const header = encodeWav({ sampleRate: 16000, channels: [new Float32Array(0)] });
    new DataView(header.buffer).setUint32(4, 36 + frames * 2, true);
    new DataView(header.buffer).setUint32(40, frames * 2, true);
    const fd = openSync(path, 'w');
    writeSync(fd, header, 0, 44, 0);
    ftruncateSync(fd, 44 + frames * 2);
    const body = encodeWav(crop).subarray(44);
    writeSync(fd, body, 0, body.length, 44 + start * 2);
    closeSync(fd);
    const cropClip = decodeWav(encodeWav(crop));

    global.gc?.();
    const before = process.memoryUsage();
    const long = await TinyClap.load(TINY_CLAP_WORLD_DIR, { seed: 11 }).embedAudioFiles([path]);
    const after = process.memoryUsage();
    const want = await clap.embedAudio([cropClip]);
    expect(rows(long)).toEqual(rows(want));
    // Decoding the whole file would hold 115 M float samples (460 MB) and their downmix (another 460 MB).
    expect((after.rss - before.rss) / 2 ** 20).toBeLessThan(200);
    expect((after.arrayBuffers - before.arrayBuffers) / 2 ** 20).toBeLessThan(100);
  });
});

describe('OnnxClap.embedAudioFiles', () => {
  it('gives embedAudio rows of the decoded files (flatten and mean), long and short clips', async () => {
    const files = [
      ['a.wav', tone(2, 44100, 1, 1)],
      ['b.wav', tone(9, 44100, 2, 2)],
      ['c.wav', tone(12, 22050, 1, 3)],
    ] as const;
    const paths = files.map(([name, clip]) => {
      writeWav(join(dir, `onnx-${name}`), clip);
      return join(dir, `onnx-${name}`);
    });
    const decoded = await Promise.all(paths.map((p) => decodeAudioFile(p)));
    for (const channelMode of ['flatten', 'mean'] as const) {
      const open = () => OnnxClap.create({ audioModel: fixture('tiny_audio.onnx'), textModel: fixture('tiny_text.onnx'), batchSize: 2, threads: 1, seed: 3, channelMode });
      const [x, y] = [await open(), await open()];
      try {
        expect(rows(await y.embedAudioFiles(paths)), channelMode).toEqual(rows(await x.embedAudio(decoded)));
      } finally {
        await x.dispose();
        await y.dispose();
      }
    }
    expect(MSCLAP_CLIP_SAMPLES).toBe(308700);
  });
});
