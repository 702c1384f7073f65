/**
 * Log-mel spectrogram on typed arrays: a real FFT (radix-2, through a half-size complex FFT), a
 * Hann-windowed STFT with torch.stft's framing (center + reflect padding), a Slaney mel filterbank
 * (librosa's `htk=False, norm='slaney'`), and power to dB as torchlibrosa's LogmelFilterBank does:
 * `10 * log10(max(amin, mel)) - 10 * log10(max(amin, ref))`, optionally clipped to `max - topDb`.
 */

export interface MelOptions {
  /** Rate the filterbank is built for (msclap builds it for 32 kHz even though its audio is 44.1 kHz). */
  sampleRate: number;
  /** FFT size, a power of two; also the window length. */
  nFft: number;
  hopLength: number;
  nMels: number;
  fmin: number;
  fmax: number;
  /** Pad nFft/2 on both sides so frame t is centred on sample t * hop (torch.stft's center=True). Default true. */
  center?: boolean;
  /** How `center` pads: `reflect` (default, as torch.stft / torchlibrosa) or `constant` (zeros). */
  padMode?: 'reflect' | 'constant';
  /** Floor before the log (default 1e-10, msclap's amin). */
  amin?: number;
  /** Reference power for 0 dB (default 1). */
  ref?: number;
  /** Clip to max - topDb when set (default none, as msclap). */
  topDb?: number | null;
  /** Return dB (default) or the linear mel power. */
  toDb?: boolean;
}

/** The msclap 2023 front end's parameters (HTSAT: filterbank for 32 kHz). */
export const MSCLAP_MEL: MelOptions = { sampleRate: 32000, nFft: 1024, hopLength: 320, nMels: 64, fmin: 50, fmax: 14000 };

export interface MelSpectrogram {
  /** Row-major [frames, nMels]. */
  data: Float32Array;
  frames: number;
  nMels: number;
}

/** A real-input FFT of a fixed power-of-two size, with its tables precomputed. */
export class RealFft {
  readonly size: number;
  private readonly half: number;
  private readonly bitrev: Uint32Array;
  private readonly cos: Float64Array;
  private readonly sin: Float64Array;
  private readonly re: Float64Array;
  private readonly im: Float64Array;

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 4 || (size & (size - 1)) !== 0) {
      throw new Error(`RealFft: size must be a power of two >= 4, got ${size}`);
    }
    this.size = size;
    const m = size / 2;
    this.half = m;
    const bits = Math.log2(m);
    this.bitrev = new Uint32Array(m);
    for (let i = 0; i < m; i++) {
      let r = 0;
      for (let b = 0; b < bits; b++) r |= ((i >> b) & 1) << (bits - 1 - b);
      this.bitrev[i] = r;
    }
    // Twiddles e^{-2 pi i k / size} for k < size/2 serve both the half-size FFT (even k) and the split step.
    this.cos = new Float64Array(m);
    this.sin = new Float64Array(m);
    for (let k = 0; k < m; k++) {
      this.cos[k] = Math.cos((2 * Math.PI * k) / size);
      this.sin[k] = -Math.sin((2 * Math.PI * k) / size);
    }
    this.re = new Float64Array(m);
    this.im = new Float64Array(m);
  }

  /**
   * Power spectrum |X[k]|^2, k = 0..size/2, of `input` (length `size`, read from `offset`).
   * `out` must hold size/2 + 1 values.
   */
  power(input: ArrayLike<number>, out: Float64Array, offset = 0): Float64Array {
    const m = this.half;
    const { re, im, bitrev, cos, sin } = this;
    // Pack even samples as real parts, odd samples as imaginary parts, in bit-reversed order.
    for (let i = 0; i < m; i++) {
      const j = bitrev[i];
      re[j] = input[offset + 2 * i];
      im[j] = input[offset + 2 * i + 1];
    }
    for (let len = 2; len <= m; len <<= 1) {
      const halfLen = len >> 1;
      const step = ((2 * m) / len) | 0; // twiddle stride in the size-`size` table: e^{-2 pi i j / len}
      for (let start = 0; start < m; start += len) {
        for (let j = 0; j < halfLen; j++) {
          const wr = cos[j * step];
          const wi = sin[j * step];
          const a = start + j;
          const b = a + halfLen;
          const tr = re[b] * wr - im[b] * wi;
          const ti = re[b] * wi + im[b] * wr;
          re[b] = re[a] - tr;
          im[b] = im[a] - ti;
          re[a] += tr;
          im[a] += ti;
        }
      }
    }
    // Split: X[k] = E[k] + W^k O[k], with E = (Z[k] + conj Z[m-k]) / 2 and O = (Z[k] - conj Z[m-k]) / 2i.
    out[0] = (re[0] + im[0]) ** 2;
    out[m] = (re[0] - im[0]) ** 2;
    for (let k = 1; k < m; k++) {
      const zr = re[k];
      const zi = im[k];
      const cr = re[m - k];
      const ci = -im[m - k];
      const er = 0.5 * (zr + cr);
      const ei = 0.5 * (zi + ci);
      // (z - c) / 2i = (zi - ci) / 2 - i (zr - cr) / 2
      const or = 0.5 * (zi - ci);
      const oi = -0.5 * (zr - cr);
      const wr = cos[k];
      const wi = sin[k];
      const xr = er + or * wr - oi * wi;
      const xi = ei + or * wi + oi * wr;
      out[k] = xr * xr + xi * xi;
    }
    return out;
  }
}

/** Slaney's mel scale (linear below 1 kHz, logarithmic above), as librosa with htk=False. */
export function hzToMel(hz: number): number {
  const fSp = 200 / 3;
  const minLogHz = 1000;
  const minLogMel = minLogHz / fSp;
  const logStep = Math.log(6.4) / 27;
  return hz >= minLogHz ? minLogMel + Math.log(hz / minLogHz) / logStep : hz / fSp;
}

export function melToHz(mel: number): number {
  const fSp = 200 / 3;
  const minLogHz = 1000;
  const minLogMel = minLogHz / fSp;
  const logStep = Math.log(6.4) / 27;
  return mel >= minLogMel ? minLogHz * Math.exp(logStep * (mel - minLogMel)) : fSp * mel;
}

/**
 * The Slaney mel filterbank, row-major [nMels, nFft/2 + 1]: triangles between consecutive points
 * equally spaced on the mel scale, each scaled by 2 / (upper edge - lower edge) in Hz.
 */
export function slaneyMelFilterbank(sampleRate: number, nFft: number, nMels: number, fmin: number, fmax: number): Float32Array {
  if (!(sampleRate > 0)) throw new Error(`mel filterbank: sampleRate must be positive, got ${sampleRate}`);
  if (!Number.isInteger(nMels) || nMels <= 0) throw new Error(`mel filterbank: nMels must be a positive integer, got ${nMels}`);
  if (!(fmin >= 0 && fmax > fmin)) throw new Error(`mel filterbank: need 0 <= fmin < fmax, got fmin ${fmin}, fmax ${fmax}`);
  const bins = Math.floor(nFft / 2) + 1;
  const melMin = hzToMel(fmin);
  const melMax = hzToMel(fmax);
  const points = new Float64Array(nMels + 2);
  for (let i = 0; i < nMels + 2; i++) points[i] = melToHz(melMin + ((melMax - melMin) * i) / (nMels + 1));
  const fb = new Float32Array(nMels * bins);
  for (let m = 0; m < nMels; m++) {
    const lo = points[m];
    const mid = points[m + 1];
    const hi = points[m + 2];
    const norm = 2 / (hi - lo);
    for (let k = 0; k < bins; k++) {
      const f = (k * sampleRate) / 2 / (bins - 1);
      const w = Math.max(0, Math.min((f - lo) / (mid - lo), (hi - f) / (hi - mid)));
      fb[m * bins + k] = w * norm;
    }
  }
  return fb;
}

/** The periodic Hann window (torch.hann_window(n, periodic=True)). */
export function hannWindow(n: number): Float64Array {
  const w = new Float64Array(n);
  for (let i = 0; i < n; i++) w[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n);
  return w;
}

/** Number of STFT frames for `length` samples. */
export function frameCount(length: number, nFft: number, hopLength: number, center = true): number {
  if (center) return 1 + Math.floor(length / hopLength);
  if (length < nFft) return 0;
  return 1 + Math.floor((length - nFft) / hopLength);
}

/**
 * A reusable log-mel extractor: the window, FFT tables and sparse filterbank are built once, so
 * computing many clips costs only the FFTs and the filterbank products.
 */
export class LogMel {
  readonly options: Required<Omit<MelOptions, 'topDb'>> & { topDb: number | null };
  private readonly fft: RealFft;
  private readonly window: Float64Array;
  private readonly bins: number;
  /** Per mel band: first and last non-zero FFT bin and the weights in between. */
  private readonly bands: { start: number; weights: Float64Array }[];

  constructor(options: MelOptions) {
    const o = { center: true, padMode: 'reflect' as const, amin: 1e-10, ref: 1, topDb: null, toDb: true, ...options };
    for (const key of ['sampleRate', 'nFft', 'hopLength', 'nMels'] as const) {
      if (!(Number.isFinite(o[key]) && o[key] > 0)) throw new Error(`LogMel: ${key} must be a positive number, got ${o[key]}`);
    }
    if (!Number.isInteger(o.hopLength)) throw new Error(`LogMel: hopLength must be an integer, got ${o.hopLength}`);
    if (!(o.amin > 0)) throw new Error(`LogMel: amin must be positive, got ${o.amin}`);
    if (o.padMode !== 'reflect' && o.padMode !== 'constant') throw new Error(`LogMel: padMode must be "reflect" or "constant", got ${JSON.stringify(o.padMode)}`);
    this.options = o;
    this.fft = new RealFft(o.nFft);
    this.window = hannWindow(o.nFft);
    this.bins = o.nFft / 2 + 1;
    const fb = slaneyMelFilterbank(o.sampleRate, o.nFft, o.nMels, o.fmin, o.fmax);
    this.bands = [];
    for (let m = 0; m < o.nMels; m++) {
      const row = fb.subarray(m * this.bins, (m + 1) * this.bins);
      let start = row.findIndex((v) => v > 0);
      if (start < 0) start = 0;
      let end = this.bins - 1;
      while (end > start && row[end] === 0) end--;
      this.bands.push({ start, weights: Float64Array.from(row.subarray(start, end + 1)) });
    }
  }

  frames(length: number): number {
    return frameCount(length, this.options.nFft, this.options.hopLength, this.options.center);
  }

  /** Log-mel (or mel power with toDb false) of a mono signal, [frames, nMels]. */
  compute(signal: Float32Array, out?: Float32Array): MelSpectrogram {
    const { nFft, hopLength, nMels, center, padMode, amin, ref, topDb, toDb } = this.options;
    const pad = center ? nFft / 2 : 0;
    if (signal.length === 0) throw new Error('LogMel: the signal is empty');
    if (center && padMode === 'reflect' && signal.length <= pad) {
      throw new Error(`LogMel: reflect padding needs more than nFft/2 = ${pad} samples, got ${signal.length} (use padMode "constant" for very short signals)`);
    }
    const frames = this.frames(signal.length);
    if (frames <= 0) throw new Error(`LogMel: a signal of ${signal.length} samples is shorter than one frame of ${nFft}`);
    const data = out ?? new Float32Array(frames * nMels);
    if (data.length < frames * nMels) throw new Error(`LogMel: output buffer holds ${data.length} values, need ${frames * nMels}`);
    const frame = new Float64Array(nFft);
    const power = new Float64Array(this.bins);
    const n = signal.length;
    const win = this.window;
    const refDb = 10 * Math.log10(Math.max(amin, ref));
    let maxDb = -Infinity;
    for (let t = 0; t < frames; t++) {
      const begin = t * hopLength - pad;
      if (begin >= 0 && begin + nFft <= n) {
        // the common case: the whole frame lies inside the signal
        for (let i = 0; i < nFft; i++) frame[i] = signal[begin + i] * win[i];
      } else {
        for (let i = 0; i < nFft; i++) {
          let idx = begin + i;
          let v: number;
          if (idx >= 0 && idx < n) v = signal[idx];
          else if (padMode === 'constant') v = 0;
          else {
            // reflect without repeating the edge sample, as numpy/torch 'reflect'
            if (idx < 0) idx = -idx;
            if (idx >= n) idx = 2 * (n - 1) - idx;
            v = signal[idx];
          }
          frame[i] = v * win[i];
        }
      }
      this.fft.power(frame, power);
      const base = t * nMels;
      for (let m = 0; m < nMels; m++) {
        const { start, weights } = this.bands[m];
        let s = 0;
        for (let k = 0; k < weights.length; k++) s += weights[k] * power[start + k];
        if (toDb) {
          const db = 10 * Math.log10(Math.max(amin, s)) - refDb;
          data[base + m] = db;
          if (db > maxDb) maxDb = db;
        } else data[base + m] = s;
      }
    }
    if (toDb && topDb !== null && topDb !== undefined) {
      if (!(topDb >= 0)) throw new Error(`LogMel: topDb must be non-negative, got ${topDb}`);
      const floor = maxDb - topDb;
      for (let i = 0; i < frames * nMels; i++) if (data[i] < floor) data[i] = floor;
    }
    return { data, frames, nMels };
  }
}

/** One-shot log-mel spectrogram (see LogMel for reuse across many signals). */
export function logMelSpectrogram(signal: Float32Array, options: MelOptions): MelSpectrogram {
  return new LogMel(options).compute(signal);
}
