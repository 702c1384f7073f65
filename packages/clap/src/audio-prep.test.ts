import { describe, expect, it } from 'vitest';
import { Rng, readSafetensors, getFloatTensor } from '@mats/core';
import { fileURLToPath } from 'node:url';
import { fitLength, prepareWaveform, validateClip, MSCLAP_CLIP_SAMPLES } from './audio-prep.js';

const ref = readSafetensors(fileURLToPath(new URL('../fixtures/onnx_reference.safetensors', import.meta.url)));

describe('fitLength', () => {
  it('tiles a short clip and cuts it at the target length', () => {
    const out = fitLength(Float32Array.from([1, 2, 3]), 8, new Rng(0));
    expect(Array.from(out)).toEqual([1, 2, 3, 1, 2, 3, 1, 2]);
  });

  it('returns a clip of exactly the target length unchanged', () => {
    expect(Array.from(fitLength(Float32Array.from([4, 5, 6]), 3, new Rng(0)))).toEqual([4, 5, 6]);
  });

  it('crops a long clip at a seeded random start: same seed, same crop', () => {
    const signal = Float32Array.from({ length: 1000 }, (_, i) => i);
    const a = fitLength(signal, 100, new Rng(7));
    const b = fitLength(signal, 100, new Rng(7));
    expect(Array.from(a)).toEqual(Array.from(b));
    const start = a[0];
    expect(start).toBe(new Rng(7).int(900)); // start drawn from [0, length - target), as random.randrange
    expect(Array.from(a)).toEqual(Array.from({ length: 100 }, (_, i) => start + i));
    const starts = new Set(Array.from({ length: 20 }, (_, s) => fitLength(signal, 100, new Rng(s))[0]));
    expect(starts.size).toBeGreaterThan(10);
  });
});

describe('prepareWaveform', () => {
  const left = getFloatTensor(ref, 'clip_b_left');
  const right = getFloatTensor(ref, 'clip_b_right');

  it('flattens stereo end to end as msclap (reference from the fixture script)', () => {
    const wave = prepareWaveform({ sampleRate: 44100, channels: [left, right] }, new Rng(0));
    expect(wave.length).toBe(MSCLAP_CLIP_SAMPLES);
    expect(Array.from(wave.subarray(0, 7000))).toEqual(Array.from(getFloatTensor(ref, 'wave_b_head')));
    expect(Array.from(wave.subarray(MSCLAP_CLIP_SAMPLES - 7000))).toEqual(Array.from(getFloatTensor(ref, 'wave_b_tail')));
    expect(wave[3000]).toBe(right[0]); // channel 1 starts right after channel 0
  });

  it('downmixes stereo by the mean when asked', () => {
    const wave = prepareWaveform({ sampleRate: 44100, channels: [left, right] }, new Rng(0), { channelMode: 'mean' });
    const expected = getFloatTensor(ref, 'wave_b_mean_head');
    for (let i = 0; i < 7000; i++) expect(wave[i]).toBeCloseTo(expected[i], 7);
  });

  it('resamples 16 k / 22.05 k / 48 k clips to 44.1 kHz before tiling', () => {
    for (const rate of [16000, 22050, 48000]) {
      const n = rate; // one second of a 1 kHz tone
      const tone = Float32Array.from({ length: n }, (_, i) => Math.sin((2 * Math.PI * 1000 * i) / rate));
      const wave = prepareWaveform({ sampleRate: rate, channels: [tone] }, new Rng(0));
      expect(wave.length).toBe(MSCLAP_CLIP_SAMPLES);
      // one second at 44.1 kHz, then the tiling repeats it: sample 44100 + k equals sample k
      expect(wave[44100 + 1234]).toBe(wave[1234]);
      // away from the edges the tone is the same tone at the new rate (resampler error well below 1e-2)
      for (const i of [5000, 12345, 30000]) expect(wave[i]).toBeCloseTo(Math.sin((2 * Math.PI * 1000 * i) / 44100), 2);
    }
  });

  it('rejects an empty clip, a 0 Hz clip, ragged channels and NaN samples', () => {
    expect(() => validateClip({ sampleRate: 16000, channels: [new Float32Array(0)] }, 2)).toThrow('audio clip 2: is empty (0 samples)');
    expect(() => validateClip({ sampleRate: 16000, channels: [] })).toThrow(/has no channels/);
    expect(() => validateClip({ sampleRate: 0, channels: [new Float32Array(10)] })).toThrow('audio clip 0: sampleRate must be a positive number of Hz, got 0');
    expect(() => validateClip({ sampleRate: 16000, channels: [new Float32Array(10), new Float32Array(9)] })).toThrow(/channel 1 has 9 samples, channel 0 has 10/);
    expect(() => validateClip({ sampleRate: 16000, channels: [Float32Array.from([0, NaN])] })).toThrow(/channel 0 sample 1 is NaN/);
  });
});
