import { type Embeddings, Rng } from '@mats/core';

/**
 * Projects rows onto their first `components` principal axes (centred data; axes found by power
 * iteration on X^T X with deflation, which needs only matrix-vector products). Returns the
 * coordinates row-major `[rows, components]` and the share of variance each axis explains.
 */
export function pca(e: Embeddings, components = 2, iterations = 200, seed = 0): { coords: Float64Array; explained: number[] } {
  const { rows, dim } = e;
  if (rows < 2) throw new Error(`pca: need at least 2 rows, got ${rows}`);
  const x = new Float64Array(rows * dim);
  const mean = new Float64Array(dim);
  for (let i = 0; i < rows; i++) for (let j = 0; j < dim; j++) mean[j] += e.data[i * dim + j] / rows;
  let total = 0;
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < dim; j++) {
      const v = e.data[i * dim + j] - mean[j];
      x[i * dim + j] = v;
      total += v * v;
    }
  const rng = new Rng(seed);
  const axes: Float64Array[] = [];
  const explained: number[] = [];
  const xv = new Float64Array(rows);
  for (let c = 0; c < components; c++) {
    let v = new Float64Array(dim);
    for (let j = 0; j < dim; j++) v[j] = rng.normal();
    let eigen = 0;
    for (let it = 0; it < iterations; it++) {
      // Remove the components already found, so the iteration converges to the next axis.
      for (const a of axes) {
        let d = 0;
        for (let j = 0; j < dim; j++) d += a[j] * v[j];
        for (let j = 0; j < dim; j++) v[j] -= d * a[j];
      }
      for (let i = 0; i < rows; i++) {
        let s = 0;
        for (let j = 0; j < dim; j++) s += x[i * dim + j] * v[j];
        xv[i] = s;
      }
      const next = new Float64Array(dim);
      for (let i = 0; i < rows; i++) {
        const s = xv[i];
        if (s === 0) continue;
        for (let j = 0; j < dim; j++) next[j] += x[i * dim + j] * s;
      }
      let norm = 0;
      for (let j = 0; j < dim; j++) norm += next[j] * next[j];
      norm = Math.sqrt(norm);
      if (norm === 0) break;
      eigen = norm;
      for (let j = 0; j < dim; j++) next[j] /= norm;
      v = next;
    }
    axes.push(v);
    explained.push(total > 0 ? eigen / total : 0);
  }
  const coords = new Float64Array(rows * components);
  for (let i = 0; i < rows; i++)
    for (let c = 0; c < components; c++) {
      let s = 0;
      for (let j = 0; j < dim; j++) s += x[i * dim + j] * axes[c][j];
      coords[i * components + c] = s;
    }
  return { coords, explained };
}
