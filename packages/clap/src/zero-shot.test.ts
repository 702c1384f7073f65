import { describe, expect, it } from 'vitest';
import { createEmbeddings, type Embeddings } from '@mats/core';
import type { AudioClip } from '@mats/datasets';
import { argmaxRows, cosineSimilarities, zeroShotClassify } from './zero-shot.js';
import type { ClapEncoder } from './encoder.js';

const rows = (dim: number, values: number[][]): Embeddings => createEmbeddings(values.length, dim, Float32Array.from(values.flat()));

describe('zero-shot helpers', () => {
  it('cosine similarities (hand-computed) ignore the raw norms', () => {
    const a = rows(2, [[3, 0], [1, 1]]);
    const b = rows(2, [[0, 5], [2, 2]]);
    const s = cosineSimilarities(a, b);
    expect(s[0]).toBeCloseTo(0, 7); // (3,0).(0,5)
    expect(s[1]).toBeCloseTo(Math.SQRT1_2, 6); // (1,0).(1,1)/sqrt2
    expect(s[2]).toBeCloseTo(Math.SQRT1_2, 6);
    expect(s[3]).toBeCloseTo(1, 6);
    expect(argmaxRows(s, 2)).toEqual([1, 1]);
  });

  it("uses msclap's prompt and picks the most similar label", async () => {
    const seen: string[] = [];
    // A fake encoder: texts map to axis of the label index; clip k points at axis k.
    const encoder: ClapEncoder = {
      dim: 3,
      async embedText(texts) {
        seen.push(...texts);
        return rows(3, texts.map((_, i) => [i === 0 ? 2 : 0, i === 1 ? 2 : 0, i === 2 ? 2 : 0]));
      },
      async embedAudio(clips: AudioClip[]) {
        return rows(3, clips.map((c) => [c.sampleRate === 1 ? 1 : 0.1, c.sampleRate === 2 ? 1 : 0.1, c.sampleRate === 3 ? 1 : 0.1]));
      },
      async dispose() {},
    };
    const clip = (rate: number): AudioClip => ({ sampleRate: rate, channels: [new Float32Array(1)] });
    const result = await zeroShotClassify(encoder, [clip(3), clip(1)], ['siren', 'dog bark', 'rain']);
    expect(seen).toEqual(['This is a sound of siren.', 'This is a sound of dog bark.', 'This is a sound of rain.']);
    expect(result.predictions).toEqual([2, 0]);
    await expect(zeroShotClassify(encoder, [clip(1)], [])).rejects.toThrow(/no labels/);
  });
});
