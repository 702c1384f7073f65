import { describe, expect, it } from 'vitest';
import { concatEmbeddings, createEmbeddings, embeddingRow, embeddingsFromRows, l2Normalize, rowNorms, selectRows, validateEmbeddings } from './embeddings.js';

describe('Embeddings', () => {
  it('normalises rows to unit length (3-4-5 triangle by hand)', () => {
    const e = embeddingsFromRows([
      [3, 4],
      [0, -2],
    ]);
    const n = l2Normalize(e);
    expect(Array.from(n.data)).toEqual([0.6000000238418579, 0.800000011920929, 0, -1]);
    expect(Array.from(e.data)).toEqual([3, 4, 0, -2]); // input untouched
    expect(Array.from(rowNorms(e))).toEqual([5, 2]);
  });

  it('rejects zero rows, NaN, Infinity and wrong sizes, naming where', () => {
    expect(() => l2Normalize(embeddingsFromRows([[1, 0], [0, 0]]))).toThrow(/row 1 is all zeros/);
    expect(() => embeddingsFromRows([[1, NaN]], 'audio.safetensors')).toThrow(/audio\.safetensors: non-finite value NaN at row 0, column 1/);
    expect(() => validateEmbeddings({ rows: 1, dim: 2, data: new Float32Array([1, Infinity]) })).toThrow(/non-finite value Infinity/);
    expect(() => createEmbeddings(2, 3, new Float32Array(5))).toThrow(/data has 5 values, expected rows \* dim = 2 \* 3 = 6/);
    expect(() => validateEmbeddings(createEmbeddings(1, 3), { dim: 1024, name: 'text' })).toThrow(/text: expected dim 1024, got 3/);
    expect(() => validateEmbeddings(createEmbeddings(0, 3))).toThrow(/is empty/);
    expect(() => embeddingsFromRows([[1, 2], [3]])).toThrow(/row 1 has 1 values, expected 2/);
  });

  it('selects, concatenates and views rows', () => {
    const e = embeddingsFromRows([[1, 2], [3, 4], [5, 6]]);
    expect(Array.from(embeddingRow(e, 2))).toEqual([5, 6]);
    expect(Array.from(selectRows(e, [2, 0]).data)).toEqual([5, 6, 1, 2]);
    const c = concatEmbeddings([e, selectRows(e, [1])]);
    expect(c.rows).toBe(4);
    expect(Array.from(c.data)).toEqual([1, 2, 3, 4, 5, 6, 3, 4]);
    expect(() => concatEmbeddings([e, createEmbeddings(1, 3)])).toThrow(/part 1 has dim 3, expected 2/);
  });
});
