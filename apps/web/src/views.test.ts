import { describe, expect, it } from 'vitest';
import { heatColour, waveformEnvelope } from './views.js';

describe('waveformEnvelope', () => {
  it('min and max of equal slices (hand-computed)', () => {
    const { min, max } = waveformEnvelope(Float32Array.from([0, 1, -2, 3, 0.5, -0.5]), 3);
    expect(Array.from(min)).toEqual([0, -2, -0.5]);
    expect(Array.from(max)).toEqual([1, 3, 0.5]);
  });

  it('more columns than samples: each column covers at least one sample', () => {
    const { min, max } = waveformEnvelope(Float32Array.from([1, -1]), 4);
    expect(Array.from(max)).toEqual([1, 1, -1, -1]);
    expect(Array.from(min)).toEqual([1, 1, -1, -1]);
  });

  it('heatColour: black-blue at 0, bright at 1, clamped', () => {
    expect(heatColour(0)[0]).toBe(0);
    expect(heatColour(1)[0]).toBe(255);
    expect(heatColour(2)).toEqual(heatColour(1));
  });
});
