/** Mean and spread over seeds, as the study reports them. */

export interface Stat {
  mean: number;
  /** Sample standard deviation (n - 1); null with a single seed. */
  std: number | null;
  n: number;
}

/** Mean and sample standard deviation (n - 1 in the denominator) of per-seed values. */
export function meanStd(values: number[]): Stat {
  if (values.length === 0) throw new Error('meanStd: no values');
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n === 1) return { mean, std: null, n };
  const ss = values.reduce((a, v) => a + (v - mean) ** 2, 0);
  return { mean, std: Math.sqrt(ss / (n - 1)), n };
}
