/**
 * The few dense kernels Santa and k-means need, on typed arrays. Distances are computed as
 * ||x||^2 - 2 x.c + ||c||^2 so that the expensive part is one matrix product, done here in 4x4
 * register blocks (16 independent accumulators per pass over the shared dimension).
 */

type FloatArray = Float32Array | Float64Array;

/**
 * out[i * n + j] = sum_k a[i * d + k] * b[j * d + k] for a (m x d) and b (n x d), both row-major:
 * the product A B^T. Accumulates in double precision (JS numbers), k ascending, so an entry does not
 * depend on which other rows are in the batch.
 */
export function matmulTransposed(a: FloatArray, m: number, b: FloatArray, n: number, d: number, out?: Float64Array): Float64Array {
  const result = out ?? new Float64Array(m * n);
  if (result.length < m * n) throw new Error(`matmulTransposed: output has ${result.length} values, needs ${m * n}`);
  // Block over rows of b so that a panel of b stays in cache while every row of a streams past it.
  const panel = Math.max(4, Math.floor(16384 / Math.max(1, d)) * 4);
  for (let j0 = 0; j0 < n; j0 += panel) {
    const j1 = Math.min(n, j0 + panel);
    let i = 0;
    for (; i + 4 <= m; i += 4) {
      const a0 = i * d;
      const a1 = a0 + d;
      const a2 = a1 + d;
      const a3 = a2 + d;
      let j = j0;
      for (; j + 4 <= j1; j += 4) {
        const b0 = j * d;
        const b1 = b0 + d;
        const b2 = b1 + d;
        const b3 = b2 + d;
        let s00 = 0, s01 = 0, s02 = 0, s03 = 0;
        let s10 = 0, s11 = 0, s12 = 0, s13 = 0;
        let s20 = 0, s21 = 0, s22 = 0, s23 = 0;
        let s30 = 0, s31 = 0, s32 = 0, s33 = 0;
        for (let k = 0; k < d; k++) {
          const x0 = a[a0 + k], x1 = a[a1 + k], x2 = a[a2 + k], x3 = a[a3 + k];
          const y0 = b[b0 + k], y1 = b[b1 + k], y2 = b[b2 + k], y3 = b[b3 + k];
          s00 += x0 * y0; s01 += x0 * y1; s02 += x0 * y2; s03 += x0 * y3;
          s10 += x1 * y0; s11 += x1 * y1; s12 += x1 * y2; s13 += x1 * y3;
          s20 += x2 * y0; s21 += x2 * y1; s22 += x2 * y2; s23 += x2 * y3;
          s30 += x3 * y0; s31 += x3 * y1; s32 += x3 * y2; s33 += x3 * y3;
        }
        let o = i * n + j;
        result[o] = s00; result[o + 1] = s01; result[o + 2] = s02; result[o + 3] = s03;
        o += n;
        result[o] = s10; result[o + 1] = s11; result[o + 2] = s12; result[o + 3] = s13;
        o += n;
        result[o] = s20; result[o + 1] = s21; result[o + 2] = s22; result[o + 3] = s23;
        o += n;
        result[o] = s30; result[o + 1] = s31; result[o + 2] = s32; result[o + 3] = s33;
      }
      for (; j < j1; j++) {
        const b0 = j * d;
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (let k = 0; k < d; k++) {
          const y = b[b0 + k];
          s0 += a[a0 + k] * y; s1 += a[a1 + k] * y; s2 += a[a2 + k] * y; s3 += a[a3 + k] * y;
        }
        result[i * n + j] = s0; result[(i + 1) * n + j] = s1; result[(i + 2) * n + j] = s2; result[(i + 3) * n + j] = s3;
      }
    }
    // Leftover rows: the same summation order as the blocks (k ascending, one accumulator), so every
    // entry is bit-identical whatever the batch size or the row's position in it.
    for (; i < m; i++) {
      const a0 = i * d;
      for (let j = j0; j < j1; j++) {
        const b0 = j * d;
        let s = 0;
        for (let k = 0; k < d; k++) s += a[a0 + k] * b[b0 + k];
        result[i * n + j] = s;
      }
    }
  }
  return result;
}

/** Dot product of a[ao .. ao + d) and b[bo .. bo + d), four accumulators. */
export function dotAt(a: FloatArray, ao: number, b: FloatArray, bo: number, d: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let k = 0;
  for (; k + 4 <= d; k += 4) {
    s0 += a[ao + k] * b[bo + k];
    s1 += a[ao + k + 1] * b[bo + k + 1];
    s2 += a[ao + k + 2] * b[bo + k + 2];
    s3 += a[ao + k + 3] * b[bo + k + 3];
  }
  for (; k < d; k++) s0 += a[ao + k] * b[bo + k];
  return s0 + s1 + s2 + s3;
}

/** Squared L2 norm of every row of a (rows x d). */
export function squaredRowNorms(a: FloatArray, rows: number, d: number): Float64Array {
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) out[i] = dotAt(a, i * d, a, i * d, d);
  return out;
}

/** Squared Euclidean distance between a[ao ..] and b[bo ..], computed directly (no cancellation). */
export function squaredDistanceAt(a: FloatArray, ao: number, b: FloatArray, bo: number, d: number): number {
  let s = 0;
  for (let k = 0; k < d; k++) {
    const t = a[ao + k] - b[bo + k];
    s += t * t;
  }
  return s;
}
