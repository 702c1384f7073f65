/**
 * Bandlimited resampling that reproduces torchaudio's default `Resample` / `functional.resample`
 * (windowed-sinc interpolation, "sinc_interp_hann", lowpass_filter_width 6, rolloff 0.99):
 * the ratio is reduced by the gcd of the two rates, one filter per output phase is built from a
 * Hann-windowed sinc, the input is zero-padded by `width` on the left and `width + orig` on the right,
 * filtered with stride `orig`, and cut to ceil(length * new / orig) samples.
 * As in `transforms.Resample` (dtype None), the kernel is computed in float64 and rounded to float32.
 */
import type { AudioClip } from './clip.js';

export interface ResampleOptions {
  /** Zero crossings of the sinc on each side (torchaudio default 6). */
  lowpassFilterWidth?: number;
  /** Cutoff as a fraction of the lower Nyquist frequency (torchaudio default 0.99). */
  rolloff?: number;
}

interface Kernel {
  orig: number;
  newRate: number;
  width: number;
  taps: number;
  /** [newRate][taps], row-major, float32 values as in torchaudio. */
  weights: Float32Array;
  /** Per phase, the first and one-past-last tap whose weight is not exactly zero (the clamped tails are 0 in float32). */
  first: Int32Array;
  last: Int32Array;
}

/** Beyond this many kernel coefficients the rates are too close to coprime to resample this way. */
const MAX_KERNEL_SIZE = 20_000_000;

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

const kernelCache = new Map<string, Kernel>();

function getKernel(fromRate: number, toRate: number, lowpassFilterWidth: number, rolloff: number): Kernel {
  const key = `${fromRate}:${toRate}:${lowpassFilterWidth}:${rolloff}`;
  const cached = kernelCache.get(key);
  if (cached) return cached;
  const g = gcd(fromRate, toRate);
  const orig = fromRate / g;
  const newRate = toRate / g;
  const baseFreq = Math.min(orig, newRate) * rolloff;
  const width = Math.ceil((lowpassFilterWidth * orig) / baseFreq);
  const taps = 2 * width + orig;
  if (taps * newRate > MAX_KERNEL_SIZE) {
    throw new Error(
      `resample: ${fromRate} Hz -> ${toRate} Hz reduces to ${orig}:${newRate}, which needs a ${newRate} x ${taps} kernel; ` +
        `resample through an intermediate rate with a simpler ratio`,
    );
  }
  const weights = new Float32Array(newRate * taps);
  const scale = baseFreq / orig;
  for (let i = 0; i < newRate; i++) {
    for (let k = 0; k < taps; k++) {
      // t = (-i / new + (k - width) / orig) * base, clamped to the filter's support. torchaudio divides
      // the phase offsets -i / new in float32 (arange defaults to float32) and the rest in float64.
      let t = (Math.fround(-i / newRate) + (k - width) / orig) * baseFreq;
      if (t < -lowpassFilterWidth) t = -lowpassFilterWidth;
      if (t > lowpassFilterWidth) t = lowpassFilterWidth;
      const c = Math.cos((t * Math.PI) / lowpassFilterWidth / 2);
      const window = c * c;
      const x = t * Math.PI;
      const sinc = x === 0 ? 1 : Math.sin(x) / x;
      weights[i * taps + k] = sinc * (window * scale);
    }
  }
  const first = new Int32Array(newRate);
  const last = new Int32Array(newRate);
  for (let i = 0; i < newRate; i++) {
    let a = 0;
    let b = taps;
    while (a < taps && weights[i * taps + a] === 0) a++;
    while (b > a && weights[i * taps + b - 1] === 0) b--;
    first[i] = a;
    last[i] = b;
  }
  const kernel = { orig, newRate, width, taps, weights, first, last };
  if (kernelCache.size > 16) kernelCache.clear();
  kernelCache.set(key, kernel);
  return kernel;
}

function checkRate(rate: number, what: string): void {
  if (!Number.isInteger(rate) || rate <= 0) throw new Error(`resample: ${what} must be a positive integer in Hz, got ${rate}`);
}

function checkOptions(options: ResampleOptions): { lowpassFilterWidth: number; rolloff: number } {
  const lowpassFilterWidth = options.lowpassFilterWidth ?? 6;
  const rolloff = options.rolloff ?? 0.99;
  if (!(lowpassFilterWidth > 0)) throw new Error(`resample: lowpassFilterWidth must be positive, got ${lowpassFilterWidth}`);
  if (!(rolloff > 0 && rolloff <= 1)) throw new Error(`resample: rolloff must be in (0, 1], got ${rolloff}`);
  return { lowpassFilterWidth, rolloff };
}

/** Length of `resample(x, fromRate, toRate)` for a signal of `length` samples. */
export function resampledLength(length: number, fromRate: number, toRate: number): number {
  checkRate(fromRate, 'fromRate');
  checkRate(toRate, 'toRate');
  if (fromRate === toRate) return length;
  const g = gcd(fromRate, toRate);
  return Math.ceil((toRate / g) * length / (fromRate / g));
}

/**
 * The input samples [from, to) that output samples [start, end) of `resample(x, fromRate, toRate)`
 * depend on, for a signal x of `length` samples: what a caller must read to get part of a resampled
 * signal with `resampleRange`.
 */
export function resampleInputRange(length: number, fromRate: number, toRate: number, start: number, end: number, options: ResampleOptions = {}): [number, number] {
  checkRate(fromRate, 'fromRate');
  checkRate(toRate, 'toRate');
  if (fromRate === toRate) return [start, end];
  if (end <= start) return [0, 0];
  const { lowpassFilterWidth, rolloff } = checkOptions(options);
  const { orig, newRate, width, taps } = getKernel(fromRate, toRate, lowpassFilterWidth, rolloff);
  const first = Math.floor(start / newRate) * orig - width;
  const last = Math.floor((end - 1) / newRate) * orig + taps - width;
  return [Math.max(0, first), Math.min(length, last)];
}

/**
 * Output samples [start, end) of `resample(x, fromRate, toRate)`, computed from part of x only:
 * `part` holds x's samples [partStart, partStart + part.length), which must cover
 * `resampleInputRange(length, ...)`; `length` is x's full length. The values are those of the whole
 * resampled signal, bit for bit (same products, summed in the same order).
 */
export function resampleRange(
  part: Float32Array,
  partStart: number,
  length: number,
  fromRate: number,
  toRate: number,
  start: number,
  end: number,
  options: ResampleOptions = {},
): Float32Array {
  checkRate(fromRate, 'fromRate');
  checkRate(toRate, 'toRate');
  const { lowpassFilterWidth, rolloff } = checkOptions(options);
  const outLength = resampledLength(length, fromRate, toRate);
  if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= outLength)) {
    throw new Error(`resampleRange: output range [${start}, ${end}) is not within the ${outLength} resampled samples`);
  }
  const [from, to] = resampleInputRange(length, fromRate, toRate, start, end, options);
  if (partStart > from || partStart + part.length < to) {
    throw new Error(`resampleRange: input samples [${from}, ${to}) are needed, got [${partStart}, ${partStart + part.length})`);
  }
  if (fromRate === toRate) return part.slice(start - partStart, end - partStart);
  const out = new Float32Array(end - start);
  if (end === start) return out;
  const { orig, newRate, width, taps, weights, first, last } = getKernel(fromRate, toRate, lowpassFilterWidth, rolloff);
  // The window of torchaudio's zero-padded input that these outputs read: padded position p is x[p - width].
  const j0 = Math.floor(start / newRate);
  const base = j0 * orig - width;
  const padded = new Float32Array((Math.floor((end - 1) / newRate) - j0) * orig + taps);
  const lo = Math.max(0, base);
  const hi = Math.min(length, base + padded.length);
  if (hi > lo) padded.set(part.subarray(lo - partStart, hi - partStart), lo - base);
  // Output o = j * newRate + i is phase i of input block j, read from padded position j * orig.
  for (let o = start, i = start - j0 * newRate, at = 0; o < end; o++) {
    let acc = 0;
    // Skipping exact-zero taps does not change the sum (0 * finite = 0).
    const row = i * taps;
    for (let k = first[i], stop = last[i]; k < stop; k++) acc += padded[at + k] * weights[row + k];
    out[o - start] = acc;
    if (++i === newRate) {
      i = 0;
      at += orig;
    }
  }
  return out;
}

/** Resamples one channel from `fromRate` to `toRate` Hz. Returns the input itself when the rates are equal (as torchaudio). */
export function resample(samples: Float32Array, fromRate: number, toRate: number, options: ResampleOptions = {}): Float32Array {
  checkRate(fromRate, 'fromRate');
  checkRate(toRate, 'toRate');
  checkOptions(options);
  if (fromRate === toRate) return samples;
  return resampleRange(samples, 0, samples.length, fromRate, toRate, 0, resampledLength(samples.length, fromRate, toRate), options);
}

/** Resamples every channel of a clip. */
export function resampleClip(clip: AudioClip, toRate: number, options: ResampleOptions = {}): AudioClip {
  if (clip.sampleRate === toRate) return clip;
  return { sampleRate: toRate, channels: clip.channels.map((ch) => resample(ch, clip.sampleRate, toRate, options)) };
}
