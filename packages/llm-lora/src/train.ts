/**
 * Training helpers that run on the wasm backend: AdamW (PyTorch semantics), the warm-up + decay
 * schedules, global-norm clipping, and a step that differentiates only the trainable tensors.
 */
import * as tf from '@tensorflow/tfjs';

export interface AdamWOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Decoupled weight decay (torch.optim.AdamW default 0.01). */
  weightDecay?: number;
}

/** Moments and step count, for exact resume. */
export interface AdamWState {
  step: number;
  /** Per variable, in the optimizer's order: first and second moments. */
  m: Float32Array[];
  v: Float32Array[];
}

/**
 * torch.optim.AdamW: p <- p * (1 - lr * wd); m, v updated; p <- p - lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps).
 * The moments live in JS typed arrays, not in the tfjs heap: the wasm heap is capped at 4 GB, and
 * two extra copies of a paper-size mapper (69 M parameters) do not fit next to GPT-2. The update is
 * one fused loop per variable (float64 arithmetic, float32 storage, like torch's fused kernels
 * compute in registers).
 */
export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  private stepCount = 0;
  private m: Float32Array[];
  private v: Float32Array[];

  constructor(readonly variables: tf.Variable[], options: AdamWOptions = {}) {
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0.01;
    this.m = variables.map((x) => new Float32Array(x.size));
    this.v = variables.map((x) => new Float32Array(x.size));
  }

  get step(): number {
    return this.stepCount;
  }

  /**
   * One update with gradients aligned to `variables` (tensors, or host arrays such as trainStep's
   * accumulated sums), each multiplied by `gradScale` (clipping).
   */
  update(grads: (tf.Tensor | Float32Array)[], lr: number, gradScale = 1): void {
    if (grads.length !== this.variables.length) throw new Error(`AdamW: ${grads.length} gradients for ${this.variables.length} variables`);
    this.stepCount++;
    const t = this.stepCount;
    const { beta1: b1, beta2: b2, eps } = this;
    const stepSize = lr / (1 - b1 ** t);
    const sqrtBc2 = Math.sqrt(1 - b2 ** t);
    const decay = 1 - lr * this.weightDecay;
    this.variables.forEach((p, i) => {
      const gi = grads[i];
      const g = gi instanceof Float32Array ? gi : (gi.dataSync() as Float32Array);
      const w = new Float32Array(p.dataSync() as Float32Array);
      const m = this.m[i];
      const v = this.v[i];
      if (g.length !== w.length) throw new Error(`AdamW: gradient ${i} has ${g.length} values, variable "${p.name}" has ${w.length}`);
      for (let j = 0; j < w.length; j++) {
        const gj = g[j] * gradScale;
        const mj = (m[j] = b1 * m[j] + (1 - b1) * gj);
        const vj = (v[j] = b2 * v[j] + (1 - b2) * gj * gj);
        w[j] = w[j] * decay - (stepSize * mj) / (Math.sqrt(vj) / sqrtBc2 + eps);
      }
      const next = tf.tensor(w, p.shape, 'float32');
      p.assign(next);
      next.dispose();
    });
  }

  async getState(): Promise<AdamWState> {
    return { step: this.stepCount, m: this.m.map((x) => x.slice()), v: this.v.map((x) => x.slice()) };
  }

  setState(state: AdamWState): void {
    if (state.m.length !== this.variables.length || state.v.length !== this.variables.length) {
      throw new Error(`AdamW.setState: state has ${state.m.length} moments for ${this.variables.length} variables`);
    }
    this.variables.forEach((p, i) => {
      if (state.m[i].length !== p.size || state.v[i].length !== p.size) throw new Error(`AdamW.setState: moment ${i} has ${state.m[i].length} values, variable "${p.name}" has ${p.size}`);
    });
    this.m = state.m.map((x) => Float32Array.from(x));
    this.v = state.v.map((x) => Float32Array.from(x));
    this.stepCount = state.step;
  }

  /** Nothing lives in the tfjs heap; kept for symmetry with other optimizers. */
  dispose(): void {}
}

export interface ScheduleOptions {
  peakLr: number;
  warmupSteps: number;
  totalSteps: number;
  /** After warm-up: linear to 0 or half-cosine to 0 (the paper's two schedules). */
  decay: 'linear' | 'cosine';
}

/**
 * Learning rate for update number `step` (0-based), as transformers' get_linear_schedule_with_warmup
 * and get_cosine_schedule_with_warmup: step / warmup during warm-up (so the first update has lr 0
 * when warmup > 0), then decay to 0 at totalSteps.
 */
export function learningRateAt(step: number, s: ScheduleOptions): number {
  if (step < s.warmupSteps) return (s.peakLr * step) / Math.max(1, s.warmupSteps);
  const progress = (step - s.warmupSteps) / Math.max(1, s.totalSteps - s.warmupSteps);
  if (s.decay === 'linear') return s.peakLr * Math.max(0, 1 - progress);
  return s.peakLr * Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
}

/**
 * torch.nn.utils.clip_grad_norm_: scales every gradient by min(1, maxNorm / (norm + 1e-6)).
 * Returns the clipped gradients (new tensors) and the total norm before clipping.
 */
export function clipByGlobalNorm(grads: tf.Tensor[], maxNorm: number): { grads: tf.Tensor[]; norm: number } {
  const norm = globalNorm(grads);
  const coef = clipCoefficient(norm, maxNorm);
  return { grads: grads.map((g) => (coef < 1 ? tf.mul(g, coef) : tf.clone(g))), norm };
}

/** The L2 norm of all gradients together (tensors, or host arrays summed in float64). */
export function globalNorm(grads: (tf.Tensor | Float32Array)[]): number {
  if (grads.every((g) => g instanceof Float32Array)) {
    let sq = 0;
    for (const g of grads as Float32Array[]) for (let j = 0; j < g.length; j++) sq += g[j] * g[j];
    return Math.sqrt(sq);
  }
  const tensors = grads.map((g) => (g instanceof Float32Array ? tf.tensor1d(g) : g));
  const normT = tf.tidy(() => tf.sqrt(tf.addN(tensors.map((g) => tf.sum(tf.square(g))))));
  const norm = normT.dataSync()[0];
  normT.dispose();
  tensors.forEach((t, i) => t !== grads[i] && t.dispose());
  return norm;
}

/** clip_grad_norm_'s factor: min(1, maxNorm / (norm + 1e-6)). */
export function clipCoefficient(norm: number, maxNorm: number): number {
  return Math.min(1, maxNorm / (norm + 1e-6));
}

export interface TrainStepOptions {
  lr: number;
  /** Clip the global gradient norm to this value (omit for no clipping). */
  maxGradNorm?: number;
}

export interface TrainStepResult {
  loss: number;
  gradNorm: number;
}

/**
 * One optimisation step: gradients of `lossFn` for the optimizer's variables only (everything else
 * stays frozen and bit-identical), optional clipping, AdamW update. An array of loss functions is
 * gradient accumulation: their gradients (and losses) are summed before the update, so
 * micro-batches whose losses are normalised by the whole batch's token count (LossOptions
 * .denominator) give the full batch's step with a fraction of the activation memory. Each
 * micro-batch's gradients are downloaded and summed in JS float32 arrays (float32 sums, as tf.add)
 * and freed at once, so the tfjs heap holds one set of gradients at a time; the global norm is
 * computed from the sums in float64.
 */
export function trainStep(lossFn: (() => tf.Scalar) | (() => tf.Scalar)[], optimizer: AdamW, options: TrainStepOptions): TrainStepResult {
  const fns = Array.isArray(lossFn) ? lossFn : [lossFn];
  if (fns.length === 0) throw new Error('trainStep: no loss function');
  let sums: Float32Array[] | null = null;
  let loss = 0;
  for (const fn of fns) {
    const { value, grads } = tf.variableGrads(fn, optimizer.variables);
    try {
      const ordered = optimizer.variables.map((v) => {
        const g = grads[v.name];
        if (!g) throw new Error(`trainStep: no gradient for trainable variable "${v.name}" (is it used by the loss?)`);
        return g;
      });
      loss += value.dataSync()[0];
      if (!sums) {
        // A copy: on the cpu backend dataSync returns the tensor's own storage.
        sums = ordered.map((g) => Float32Array.from(g.dataSync() as Float32Array));
      } else {
        ordered.forEach((g, i) => {
          const d = g.dataSync() as Float32Array;
          const s = sums![i];
          for (let j = 0; j < s.length; j++) s[j] += d[j];
        });
      }
    } finally {
      tf.dispose([value, ...Object.values(grads)]);
    }
  }
  let gradNorm = NaN;
  let scale = 1;
  if (options.maxGradNorm !== undefined) {
    gradNorm = globalNorm(sums!);
    scale = clipCoefficient(gradNorm, options.maxGradNorm);
  }
  // The clip factor is applied inside the update loop: no scaled copy of the gradients.
  optimizer.update(sums!, options.lr, scale);
  return { loss, gradNorm };
}
