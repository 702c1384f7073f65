/**
 * Training helpers: AdamW (PyTorch semantics), the warm-up + decay schedules, global-norm clipping,
 * and a step that differentiates only the trainable tensors. Nothing here reads a tensor
 * synchronously: on the `tensors` route a step queues its work and returns tensors the caller reads
 * when it wants to (so the same code runs on webgpu); the `host` route reads gradients and
 * parameters with `await t.data()`.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * Where AdamW keeps its moments and runs its update:
 * - `tensors`: two flat float32 tfjs tensors; the update is a handful of tensor ops over all
 *   parameters at once and nothing is read back: the route for GPU backends (webgpu, tensorflow),
 *   where a read waits for the device.
 * - `host`: JS Float32Arrays and one fused JS loop per variable (float64 arithmetic, float32
 *   storage); gradients and parameters are read with `await data()`. On wasm and cpu a read is a
 *   plain copy (no device to wait for) and one fused loop beats a dozen unfused elementwise
 *   kernels over every parameter (world preset, 543 k parameters: about 9 ms against 26 ms per
 *   update measured here); and the moments of a paper-size mapper (69 M parameters, 2 x 267 MiB)
 *   do not fit next to GPT-2 in the 4 GB wasm heap.
 * - `auto` (default): `host` on the wasm and cpu backends or from HOST_STATE_MIN_PARAMETERS
 *   trainable parameters on, `tensors` otherwise.
 */
export type AdamWStateRoute = 'auto' | 'tensors' | 'host';

/** From this many trainable parameters on, `auto` keeps AdamW's moments in JS (`host`) on every backend. */
export const HOST_STATE_MIN_PARAMETERS = 16_000_000;

/** The tfjs backends on which `auto` takes the host route (a read is a copy, not a device wait). */
const HOST_BACKENDS = new Set(['wasm', 'cpu']);

export interface AdamWOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Decoupled weight decay (torch.optim.AdamW default 0.01). */
  weightDecay?: number;
  /** Where the moments live (default `auto`). */
  state?: AdamWStateRoute;
}

/** Moments and step count, for exact resume (the same on both routes). */
export interface AdamWState {
  step: number;
  /** Per variable, in the optimizer's order: first and second moments. */
  m: Float32Array[];
  v: Float32Array[];
}

/** A gradient factor: a number, or a scalar tensor (the clip coefficient of the tensors route). */
export type GradScale = number | tf.Scalar;

/**
 * torch.optim.AdamW (the single-tensor implementation): p <- p * (1 - lr * wd); m, v updated;
 * p <- p - lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps). The moments live where `state` says.
 */
export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** The route taken (`auto` resolved). */
  readonly route: 'tensors' | 'host';
  /** Values per variable, in order. */
  readonly sizes: number[];
  private stepCount = 0;
  private hostM: Float32Array[] = [];
  private hostV: Float32Array[] = [];
  private flatM: tf.Tensor1D | null = null;
  private flatV: tf.Tensor1D | null = null;

  constructor(readonly variables: tf.Variable[], options: AdamWOptions = {}) {
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0.01;
    this.sizes = variables.map((x) => x.size);
    const total = this.sizes.reduce((a, b) => a + b, 0);
    const state = options.state ?? 'auto';
    if (!['auto', 'tensors', 'host'].includes(state)) throw new Error(`AdamW: state must be auto, tensors or host, got ${JSON.stringify(state)}`);
    this.route = state === 'auto' ? (total >= HOST_STATE_MIN_PARAMETERS || HOST_BACKENDS.has(tf.getBackend()) ? 'host' : 'tensors') : state;
    if (this.route === 'host') {
      this.hostM = this.sizes.map((n) => new Float32Array(n));
      this.hostV = this.sizes.map((n) => new Float32Array(n));
    } else {
      this.flatM = tf.zeros([total]);
      this.flatV = tf.zeros([total]);
    }
  }

  get step(): number {
    return this.stepCount;
  }

  /** Number of trainable values. */
  get parameterCount(): number {
    return this.sizes.reduce((a, b) => a + b, 0);
  }

  /**
   * One update with gradients aligned to `variables` (tensors, or host arrays such as the host
   * route's accumulated sums), each multiplied by `gradScale` (clipping). The caller keeps
   * ownership of `grads`.
   */
  async update(grads: (tf.Tensor | Float32Array)[], lr: number, gradScale: GradScale = 1): Promise<void> {
    if (grads.length !== this.variables.length) throw new Error(`AdamW: ${grads.length} gradients for ${this.variables.length} variables`);
    grads.forEach((g, i) => {
      const n = g instanceof Float32Array ? g.length : g.size;
      if (n !== this.sizes[i]) throw new Error(`AdamW: gradient ${i} has ${n} values, variable "${this.variables[i].name}" has ${this.sizes[i]}`);
    });
    if (this.route === 'host') {
      const scale = typeof gradScale === 'number' ? gradScale : (await gradScale.data())[0];
      const host = await Promise.all(grads.map(async (g) => (g instanceof Float32Array ? g : ((await g.data()) as Float32Array))));
      return this.updateHost(host, lr, scale);
    }
    const flat = tf.tidy(() => flatten(grads.map((g) => (g instanceof Float32Array ? tf.tensor1d(g) : g))));
    try {
      this.updateFlat(flat, lr, gradScale);
    } finally {
      flat.dispose();
    }
  }

  /**
   * The tensors route's update from the gradients as one flat vector in variable order (what
   * trainStep builds); nothing is read back.
   */
  updateFlat(flatGrad: tf.Tensor1D, lr: number, gradScale: GradScale = 1): void {
    if (this.route !== 'tensors') throw new Error('AdamW.updateFlat: the optimizer keeps its moments on the host (state: host)');
    if (flatGrad.size !== this.parameterCount) throw new Error(`AdamW.updateFlat: ${flatGrad.size} gradient values for ${this.parameterCount} parameters`);
    this.stepCount++;
    const { stepSize, sqrtBc2, decay } = this.factors(lr);
    const { beta1: b1, beta2: b2, eps } = this;
    const [m, v] = tf.tidy(() => {
      const g = gradScale === 1 ? flatGrad : tf.mul(flatGrad, gradScale);
      const mNext = tf.add(tf.mul(this.flatM!, b1), tf.mul(g, 1 - b1));
      const vNext = tf.add(tf.mul(this.flatV!, b2), tf.mul(tf.mul(g, g), 1 - b2));
      // p <- p * decay - stepSize * m / (sqrt(v) / sqrt(bc2) + eps), in torch's order.
      const step = tf.mul(tf.div(mNext, tf.add(tf.div(tf.sqrt(vNext), sqrtBc2), eps)), stepSize);
      const parts = tf.split(step, this.sizes);
      this.variables.forEach((p, i) => p.assign(tf.sub(tf.mul(p, decay), tf.reshape(parts[i], p.shape))));
      return [mNext, vNext];
    });
    this.flatM!.dispose();
    this.flatV!.dispose();
    this.flatM = m as tf.Tensor1D;
    this.flatV = v as tf.Tensor1D;
  }

  private factors(lr: number): { stepSize: number; sqrtBc2: number; decay: number } {
    const t = this.stepCount;
    return { stepSize: lr / (1 - this.beta1 ** t), sqrtBc2: Math.sqrt(1 - this.beta2 ** t), decay: 1 - lr * this.weightDecay };
  }

  /** The host route: one fused loop per variable, parameters read with `await data()`. */
  private async updateHost(grads: Float32Array[], lr: number, gradScale: number): Promise<void> {
    this.stepCount++;
    const { stepSize, sqrtBc2, decay } = this.factors(lr);
    const copy = tf.getBackend() === 'cpu'; // the cpu backend's data() is the tensor's own storage
    for (let i = 0; i < this.variables.length; i++) {
      const p = this.variables[i];
      const data = (await p.data()) as Float32Array;
      const w = copy ? new Float32Array(data) : data;
      adamwLoop(w, grads[i], this.hostM[i], this.hostV[i], gradScale, this.beta1, this.beta2, this.eps, stepSize, sqrtBc2, decay);
      const next = tf.tensor(w, p.shape, 'float32');
      p.assign(next);
      next.dispose();
    }
  }

  async getState(): Promise<AdamWState> {
    if (this.route === 'host') return { step: this.stepCount, m: this.hostM.map((x) => x.slice()), v: this.hostV.map((x) => x.slice()) };
    const [m, v] = await Promise.all([this.flatM!.data(), this.flatV!.data()]);
    return { step: this.stepCount, m: splitHost(m as Float32Array, this.sizes), v: splitHost(v as Float32Array, this.sizes) };
  }

  setState(state: AdamWState): void {
    if (state.m.length !== this.variables.length || state.v.length !== this.variables.length) {
      throw new Error(`AdamW.setState: state has ${state.m.length} moments for ${this.variables.length} variables`);
    }
    this.variables.forEach((p, i) => {
      if (state.m[i].length !== p.size || state.v[i].length !== p.size) throw new Error(`AdamW.setState: moment ${i} has ${state.m[i].length} values, variable "${p.name}" has ${p.size}`);
    });
    if (this.route === 'host') {
      this.hostM = state.m.map((x) => Float32Array.from(x));
      this.hostV = state.v.map((x) => Float32Array.from(x));
    } else {
      this.flatM!.dispose();
      this.flatV!.dispose();
      this.flatM = tf.tensor1d(joinHost(state.m));
      this.flatV = tf.tensor1d(joinHost(state.v));
    }
    this.stepCount = state.step;
  }

  /** Frees the moments of the tensors route. */
  dispose(): void {
    tf.dispose([this.flatM, this.flatV].filter((t): t is tf.Tensor1D => t !== null));
    this.flatM = null;
    this.flatV = null;
  }
}

/**
 * AdamW on one variable in place (w, m, v), float64 arithmetic in torch's order, float32 storage.
 * A plain function (not inside the async update) so that V8 optimises the loop on its own.
 */
function adamwLoop(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, gradScale: number, b1: number, b2: number, eps: number, stepSize: number, sqrtBc2: number, decay: number): void {
  const c1 = 1 - b1;
  const c2 = 1 - b2;
  for (let j = 0; j < w.length; j++) {
    const gj = g[j] * gradScale;
    const mj = b1 * m[j] + c1 * gj;
    const vj = b2 * v[j] + c2 * gj * gj;
    m[j] = mj;
    v[j] = vj;
    w[j] = w[j] * decay - (stepSize * mj) / (Math.sqrt(vj) / sqrtBc2 + eps);
  }
}

/** All tensors as one flat vector, in order. */
function flatten(tensors: tf.Tensor[]): tf.Tensor1D {
  const flat = tensors.map((t) => tf.reshape(t, [-1]) as tf.Tensor1D);
  return flat.length === 1 ? tf.clone(flat[0]) : tf.concat(flat);
}

function splitHost(flat: Float32Array, sizes: number[]): Float32Array[] {
  let offset = 0;
  return sizes.map((n) => flat.slice(offset, (offset += n)));
}

function joinHost(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
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
 * Returns the clipped gradients (new tensors) and the total norm before clipping (a scalar tensor;
 * the caller disposes all of them). Nothing is read.
 */
export function clipByGlobalNorm(grads: tf.Tensor[], maxNorm: number): { grads: tf.Tensor[]; norm: tf.Scalar } {
  return tf.tidy(() => {
    const norm = globalNorm(grads);
    const coef = clipCoefficient(norm, maxNorm);
    return { grads: grads.map((g) => tf.mul(g, coef)), norm };
  });
}

/** The L2 norm of all gradients together, as a scalar tensor (float32 sums). */
export function globalNorm(grads: tf.Tensor[]): tf.Scalar {
  return tf.tidy(() => tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(g))))) as tf.Scalar);
}

/** The L2 norm of host arrays together, summed in float64. */
export function hostGlobalNorm(grads: Float32Array[]): number {
  let sq = 0;
  for (const g of grads) for (let j = 0; j < g.length; j++) sq += g[j] * g[j];
  return Math.sqrt(sq);
}

/** clip_grad_norm_'s factor: min(1, maxNorm / (norm + 1e-6)), for a number or a scalar tensor. */
export function clipCoefficient(norm: number, maxNorm: number): number;
export function clipCoefficient(norm: tf.Scalar, maxNorm: number): tf.Scalar;
export function clipCoefficient(norm: number | tf.Scalar, maxNorm: number): number | tf.Scalar {
  if (typeof norm === 'number') return Math.min(1, maxNorm / (norm + 1e-6));
  return tf.tidy(() => tf.minimum(1, tf.div(maxNorm, tf.add(norm, 1e-6))) as tf.Scalar);
}

export interface TrainStepOptions {
  lr: number;
  /** Clip the global gradient norm to this value (omit for no clipping). */
  maxGradNorm?: number;
  /**
   * Gradients of other parts of the batch computed elsewhere (data-parallel worker threads, with
   * `hostGradients`), for the optimizer's variables in its order: added to this step's gradients
   * before clipping, their losses added to the step's loss. A promise is awaited after this
   * thread's own gradients, so the other threads work meanwhile.
   */
  extraGradients?: HostGradients[] | Promise<HostGradients[]>;
}

/** Gradients in JS arrays (one per variable, in order) and the loss they are the gradients of. */
export interface HostGradients {
  loss: number;
  grads: Float32Array[];
}

export interface TrainStepResult {
  /**
   * The step's loss (the sum over micro-batches) as a scalar tensor: nothing is read inside the
   * step. The caller reads it when it needs the number (`await loss.data()`, or `readScalar`) and
   * disposes it.
   */
  loss: tf.Scalar;
  /** The global gradient norm before clipping (a scalar tensor to read and dispose), or null without clipping. */
  gradNorm: tf.Scalar | null;
}

/** Reads a scalar tensor and disposes it. */
export async function readScalar(t: tf.Scalar): Promise<number> {
  try {
    return (await t.data())[0];
  } finally {
    t.dispose();
  }
}

/**
 * One optimisation step: gradients of `lossFn` for the optimizer's variables only (everything else
 * stays frozen and bit-identical), optional clipping, AdamW update. An array of loss functions is
 * gradient accumulation: their gradients (and losses) are summed before the update, so
 * micro-batches whose losses are normalised by the whole batch's token count (LossOptions
 * .denominator) give the full batch's step with a fraction of the activation memory.
 *
 * On the optimizer's `tensors` route the gradients stay tensors: concatenated into one flat vector
 * (summed over micro-batches as tensors), norm and clip factor computed as tensor ops, and the
 * update queued; nothing is read, so the step never waits for the backend. On the `host` route
 * (large models in the wasm heap) each micro-batch's gradients are downloaded (`await data()`),
 * summed in JS float32 arrays and freed at once, so the tfjs heap holds one set of gradients at a
 * time; the norm is computed from the sums in float64. `options.extraGradients` (other threads'
 * `hostGradients`) are added to the sums before clipping, on either route.
 */
export async function trainStep(lossFn: (() => tf.Scalar) | (() => tf.Scalar)[], optimizer: AdamW, options: TrainStepOptions): Promise<TrainStepResult> {
  const fns = Array.isArray(lossFn) ? lossFn : [lossFn];
  if (fns.length === 0) throw new Error('trainStep: no loss function');
  return optimizer.route === 'tensors' ? tensorStep(fns, optimizer, options) : hostStep(fns, optimizer, options);
}

/** The step's loss plus the extra gradients' losses (the input is disposed). */
function withExtraLosses(loss: tf.Scalar, extra: HostGradients[]): tf.Scalar {
  if (extra.length === 0) return loss;
  const total: tf.Scalar = tf.add(loss, extra.reduce((n, e) => n + e.loss, 0));
  loss.dispose();
  return total;
}

/** Gradients of one loss function for `variables`, in their order (the caller disposes value and grads). */
function gradientsOf(fn: () => tf.Scalar, variables: tf.Variable[]): { value: tf.Scalar; grads: tf.Tensor[] } {
  const { value, grads } = tf.variableGrads(fn, variables);
  const ordered = variables.map((v) => grads[v.name]);
  const missing = variables.findIndex((_, i) => !ordered[i]);
  if (missing >= 0) {
    tf.dispose([value, ...Object.values(grads)]);
    throw new Error(`trainStep: no gradient for trainable variable "${variables[missing].name}" (is it used by the loss?)`);
  }
  return { value, grads: ordered };
}

/**
 * The gradients of the loss functions (summed, as trainStep accumulates micro-batches) for
 * `variables`, read into JS arrays, and the summed loss; nothing is updated. What a data-parallel
 * worker computes for its rows and hands to the main thread's `trainStep` as `extraGradients`.
 */
export async function hostGradients(lossFn: (() => tf.Scalar) | (() => tf.Scalar)[], variables: tf.Variable[]): Promise<HostGradients> {
  const fns = Array.isArray(lossFn) ? lossFn : [lossFn];
  if (fns.length === 0) throw new Error('hostGradients: no loss function');
  const { sums, loss } = await sumHostGradients(fns, variables);
  return { loss: await readScalar(loss), grads: sums };
}

/** Adds other threads' gradients into `sums` (in place), checking their shapes. */
function addExtraGradients(sums: Float32Array[], extra: HostGradients[]): void {
  extra.forEach((e, k) => {
    if (e.grads.length !== sums.length) throw new Error(`trainStep: extra gradients ${k} have ${e.grads.length} arrays for ${sums.length} variables`);
    e.grads.forEach((d, i) => {
      const s = sums[i];
      if (d.length !== s.length) throw new Error(`trainStep: extra gradients ${k}, array ${i}: ${d.length} values for a variable of ${s.length}`);
      for (let j = 0; j < s.length; j++) s[j] += d[j];
    });
  });
}

async function tensorStep(fns: (() => tf.Scalar)[], optimizer: AdamW, options: TrainStepOptions): Promise<TrainStepResult> {
  let sum: tf.Tensor1D | null = null;
  let loss: tf.Scalar | null = null;
  for (const fn of fns) {
    const { value, grads } = gradientsOf(fn, optimizer.variables);
    const flat = tf.tidy(() => flatten(grads));
    tf.dispose(grads);
    if (!sum) {
      sum = flat;
      loss = value;
    } else {
      const nextSum: tf.Tensor1D = tf.add(sum, flat);
      const nextLoss: tf.Scalar = tf.add(loss!, value);
      tf.dispose([sum, flat, loss!, value]);
      sum = nextSum;
      loss = nextLoss;
    }
  }
  const extra = (await options.extraGradients) ?? [];
  if (extra.length > 0) {
    // The extra gradients summed into one flat vector, through views of it in variable order.
    const flat = new Float32Array(optimizer.parameterCount);
    let offset = 0;
    addExtraGradients(optimizer.sizes.map((n) => flat.subarray(offset, (offset += n))), extra);
    const withExtra: tf.Tensor1D = tf.tidy(() => tf.add(sum!, tf.tensor1d(flat)));
    sum!.dispose();
    sum = withExtra;
    loss = withExtraLosses(loss!, extra);
  }
  let gradNorm: tf.Scalar | null = null;
  let scale: GradScale = 1;
  if (options.maxGradNorm !== undefined) {
    const maxNorm = options.maxGradNorm;
    gradNorm = tf.tidy(() => tf.sqrt(tf.sum(tf.square(sum!))) as tf.Scalar);
    scale = clipCoefficient(gradNorm, maxNorm);
  }
  try {
    optimizer.updateFlat(sum!, options.lr, scale);
  } finally {
    tf.dispose(typeof scale === 'number' ? [sum!] : [sum!, scale]);
  }
  return { loss: loss!, gradNorm };
}

async function hostStep(fns: (() => tf.Scalar)[], optimizer: AdamW, options: TrainStepOptions): Promise<TrainStepResult> {
  const own = await sumHostGradients(fns, optimizer.variables);
  const sums = own.sums;
  const extra = (await options.extraGradients) ?? [];
  addExtraGradients(sums, extra);
  const loss = withExtraLosses(own.loss, extra);
  let gradNorm: tf.Scalar | null = null;
  let scale = 1;
  if (options.maxGradNorm !== undefined) {
    const norm = hostGlobalNorm(sums);
    scale = clipCoefficient(norm, options.maxGradNorm);
    gradNorm = tf.scalar(norm);
  }
  // The clip factor is applied inside the update loop: no scaled copy of the gradients.
  await optimizer.update(sums, options.lr, scale);
  return { loss, gradNorm };
}

/**
 * Each loss function's gradients downloaded (`await data()`), summed in JS float32 arrays and
 * freed at once, so the tfjs heap holds one set of gradients at a time; the losses summed as a tensor.
 */
async function sumHostGradients(fns: (() => tf.Scalar)[], variables: tf.Variable[]): Promise<{ sums: Float32Array[]; loss: tf.Scalar }> {
  let sums: Float32Array[] | null = null;
  let loss: tf.Scalar | null = null;
  for (const fn of fns) {
    const { value, grads } = gradientsOf(fn, variables);
    try {
      const host = await Promise.all(grads.map(async (g) => (await g.data()) as Float32Array));
      if (!sums) {
        // A copy: on the cpu backend data() returns the tensor's own storage.
        sums = host.map((d) => Float32Array.from(d));
      } else {
        host.forEach((d, i) => {
          const s = sums![i];
          for (let j = 0; j < s.length; j++) s[j] += d[j];
        });
      }
      const next: tf.Scalar = loss ? tf.add(loss, value) : tf.clone(value);
      loss?.dispose();
      loss = next;
    } finally {
      tf.dispose([value, ...grads]);
    }
  }
  return { sums: sums!, loss: loss! };
}
