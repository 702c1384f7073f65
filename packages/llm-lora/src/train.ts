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
 */
export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  private stepCount = 0;
  private m: tf.Variable[];
  private v: tf.Variable[];

  constructor(readonly variables: tf.Variable[], options: AdamWOptions = {}) {
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0.01;
    this.m = variables.map((x) => tf.variable(tf.zerosLike(x), false));
    this.v = variables.map((x) => tf.variable(tf.zerosLike(x), false));
  }

  get step(): number {
    return this.stepCount;
  }

  /** One update with gradients aligned to `variables`. */
  update(grads: tf.Tensor[], lr: number): void {
    if (grads.length !== this.variables.length) throw new Error(`AdamW: ${grads.length} gradients for ${this.variables.length} variables`);
    this.stepCount++;
    const t = this.stepCount;
    const bc1 = 1 - this.beta1 ** t;
    const bc2 = 1 - this.beta2 ** t;
    const stepSize = lr / bc1;
    const sqrtBc2 = Math.sqrt(bc2);
    const decay = 1 - lr * this.weightDecay;
    // One tidy per variable, so the temporaries of a large tensor are freed before the next one.
    this.variables.forEach((p, i) => {
      tf.tidy(() => {
        const g = grads[i];
        const m = tf.add(tf.mul(this.m[i], this.beta1), tf.mul(g, 1 - this.beta1));
        const v = tf.add(tf.mul(this.v[i], this.beta2), tf.mul(tf.square(g), 1 - this.beta2));
        const denom = tf.add(tf.div(tf.sqrt(v), sqrtBc2), this.eps);
        const decayed = decay === 1 ? p : tf.mul(p, decay);
        p.assign(tf.sub(decayed, tf.mul(tf.div(m, denom), stepSize)));
        this.m[i].assign(m);
        this.v[i].assign(v);
      });
    });
  }

  async getState(): Promise<AdamWState> {
    return {
      step: this.stepCount,
      m: await Promise.all(this.m.map(async (x) => new Float32Array((await x.data()) as Float32Array))),
      v: await Promise.all(this.v.map(async (x) => new Float32Array((await x.data()) as Float32Array))),
    };
  }

  setState(state: AdamWState): void {
    if (state.m.length !== this.variables.length || state.v.length !== this.variables.length) {
      throw new Error(`AdamW.setState: state has ${state.m.length} moments for ${this.variables.length} variables`);
    }
    this.variables.forEach((p, i) => {
      if (state.m[i].length !== p.size || state.v[i].length !== p.size) throw new Error(`AdamW.setState: moment ${i} has ${state.m[i].length} values, variable "${p.name}" has ${p.size}`);
      this.m[i].assign(tf.tensor(state.m[i], p.shape));
      this.v[i].assign(tf.tensor(state.v[i], p.shape));
    });
    this.stepCount = state.step;
  }

  dispose(): void {
    tf.dispose([...this.m, ...this.v]);
  }
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
  const normT = tf.tidy(() => tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(g))))));
  const norm = normT.dataSync()[0];
  normT.dispose();
  const coef = Math.min(1, maxNorm / (norm + 1e-6));
  return { grads: grads.map((g) => (coef < 1 ? tf.mul(g, coef) : tf.clone(g))), norm };
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
 * stays frozen and bit-identical), optional clipping, AdamW update.
 */
export function trainStep(lossFn: () => tf.Scalar, optimizer: AdamW, options: TrainStepOptions): TrainStepResult {
  const { value, grads } = tf.variableGrads(lossFn, optimizer.variables);
  const ordered = optimizer.variables.map((v) => {
    const g = grads[v.name];
    if (!g) throw new Error(`trainStep: no gradient for trainable variable "${v.name}" (is it used by the loss?)`);
    return g;
  });
  let gradNorm = NaN;
  let used = ordered;
  if (options.maxGradNorm !== undefined) {
    const clipped = clipByGlobalNorm(ordered, options.maxGradNorm);
    used = clipped.grads;
    gradNorm = clipped.norm;
  }
  optimizer.update(used, options.lr);
  const loss = value.dataSync()[0];
  tf.dispose([value, ...ordered]);
  if (used !== ordered) tf.dispose(used);
  return { loss, gradNorm };
}
