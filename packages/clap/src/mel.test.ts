import { describe, expect, it } from 'vitest';
import { readSafetensors, getFloatTensor } from '@mats/core';
import { fileURLToPath } from 'node:url';
import { LogMel, RealFft, slaneyMelFilterbank, hzToMel, melToHz, frameCount } from './mel.js';

const fixture = readSafetensors(fileURLToPath(new URL('../fixtures/logmel_reference.safetensors', import.meta.url)));

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('RealFft', () => {
  it('matches a direct DFT on random input', () => {
    const n = 64;
    const x = Float64Array.from({ length: n }, (_, i) => Math.sin(i * 1.7) + ((i * 7919) % 13) / 13);
    const got = new RealFft(n).power(x, new Float64Array(n / 2 + 1));
    for (let k = 0; k <= n / 2; k++) {
      let re = 0;
      let im = 0;
      for (let t = 0; t < n; t++) {
        re += x[t] * Math.cos((2 * Math.PI * k * t) / n);
        im -= x[t] * Math.sin((2 * Math.PI * k * t) / n);
      }
      expect(got[k]).toBeCloseTo(re * re + im * im, 9);
    }
  });

  it('puts a pure tone in its bin (hand-computed: |X[k]| = n/2 for a unit cosine)', () => {
    const n = 16;
    const x = Float64Array.from({ length: n }, (_, t) => Math.cos((2 * Math.PI * 3 * t) / n));
    const p = new RealFft(n).power(x, new Float64Array(9));
    expect(p[3]).toBeCloseTo(64, 10);
    for (const k of [0, 1, 2, 4, 8]) expect(p[k]).toBeCloseTo(0, 10);
  });

  it('rejects sizes that are not powers of two', () => {
    expect(() => new RealFft(100)).toThrow(/power of two/);
  });
});

describe('Slaney mel scale', () => {
  it('is linear below 1 kHz and logarithmic above (librosa values)', () => {
    expect(hzToMel(1000)).toBeCloseTo(15, 12);
    expect(hzToMel(500)).toBeCloseTo(7.5, 12);
    expect(hzToMel(6400)).toBeCloseTo(42, 10); // 15 + 27 * ln(6.4) / ln(6.4)
    expect(melToHz(hzToMel(3210))).toBeCloseTo(3210, 8);
  });

  it('builds the reference filterbanks', () => {
    expect(maxAbsDiff(slaneyMelFilterbank(32000, 1024, 64, 50, 14000), getFloatTensor(fixture, 'msclap_fb'))).toBeLessThan(1e-7);
    expect(maxAbsDiff(slaneyMelFilterbank(16000, 512, 64, 0, 8000), getFloatTensor(fixture, 'tiny_fb'))).toBeLessThan(1e-7);
  });
});

describe('LogMel', () => {
  const signal = getFloatTensor(fixture, 'signal');
  // Tolerance: 1e-4 dB. The reference is float64 torch.stft; we compute in float64 from float32 samples,
  // so differences are float32 round-off of the stored dB values (seen: 2e-6 dB).
  const TOL_DB = 1e-4;

  it('matches torch.stft + Slaney filterbank + dB for msclap parameters', () => {
    const ref = fixture.tensors.get('msclap_db')!;
    const mel = new LogMel({ sampleRate: 32000, nFft: 1024, hopLength: 320, nMels: 64, fmin: 50, fmax: 14000 }).compute(signal);
    expect([mel.frames, mel.nMels]).toEqual(ref.shape);
    expect(maxAbsDiff(mel.data, ref.data as Float32Array)).toBeLessThan(TOL_DB);
  });

  it('matches the reference for the tiny CLAP parameters, amin floor included', () => {
    const ref = fixture.tensors.get('tiny_db')!;
    const mel = new LogMel({ sampleRate: 16000, nFft: 512, hopLength: 160, nMels: 64, fmin: 0, fmax: 8000 }).compute(signal);
    expect([mel.frames, mel.nMels]).toEqual(ref.shape);
    expect(maxAbsDiff(mel.data, ref.data as Float32Array)).toBeLessThan(TOL_DB);
  });

  it('counts frames as torch.stft(center=True) does', () => {
    expect(frameCount(8000, 1024, 320)).toBe(26);
    expect(frameCount(308700, 1024, 320)).toBe(965);
    expect(frameCount(1000, 512, 160, false)).toBe(4);
  });

  it('floors silence at 10*log10(amin) and clips with topDb', () => {
    const silent = new Float32Array(2048);
    const mel = new LogMel({ sampleRate: 16000, nFft: 512, hopLength: 160, nMels: 8, fmin: 0, fmax: 8000 }).compute(silent);
    expect(Array.from(mel.data).every((v) => v === -100)).toBe(true);
    const clipped = new LogMel({ sampleRate: 16000, nFft: 512, hopLength: 160, nMels: 64, fmin: 0, fmax: 8000, topDb: 20 }).compute(signal);
    const max = Math.max(...clipped.data);
    expect(Math.min(...clipped.data)).toBeCloseTo(max - 20, 4);
  });

  it('rejects a signal too short for reflect padding and an empty one', () => {
    const lm = new LogMel({ sampleRate: 16000, nFft: 512, hopLength: 160, nMels: 8, fmin: 0, fmax: 8000 });
    expect(() => lm.compute(new Float32Array(100))).toThrow(/reflect padding needs more than nFft\/2 = 256 samples, got 100/);
    expect(() => lm.compute(new Float32Array(0))).toThrow(/empty/);
  });
});
