/**
 * Data-parallel training steps (`train.workers` N > 1). tfjs-wasm runs one thread in Node, so the
 * trainer splits each batch into N contiguous row shares: the main thread computes share 0 itself
 * and N-1 worker threads (node:worker_threads, gradient-worker.ts) compute the others at the same
 * time, each on its own replica (its own tfjs backend, the frozen LLM loaded from llm.dir, the
 * mapper and LoRA adapter as `TrainingReplica`). Every step the main thread sends each worker the
 * current trainable values, its rows' input embeddings (noise already drawn on the main thread, in
 * the order the single-thread micro-batch path draws it) and their tokenised examples; the worker
 * returns its loss and gradients (normalised by the whole batch's token count), which the main
 * thread adds to its own before clipping and AdamW (`trainStep`'s `extraGradients`).
 */
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { type Embeddings, Rng } from '@mats/core';
import type { HostGradients, PrefixLmExample } from '@mats/llm-lora';
import type { MatsConfig } from '@mats/app-shared';

/** One micro-batch of a share: CLAP rows ready for the mapper's normalisation (noise added) and their examples. */
export interface ShareChunk {
  embeddings: Embeddings;
  examples: PrefixLmExample[];
}

/** What a worker is started with (workerData). */
export interface WorkerInit {
  /** 1..N-1: the share this worker computes. */
  share: number;
  config: MatsConfig;
  clapDim: number;
  /** The main thread's tfjs backend (wasm or cpu). */
  backend: 'wasm' | 'cpu';
  /** Values per trainable tensor on the main thread, to check the replica against. */
  sizes: number[];
}

/** Main thread -> worker: one step's work. */
export interface WorkerRequest {
  step: number;
  /** The trainable values before this step, in the optimizer's order. */
  values: Float32Array[];
  chunks: ShareChunk[];
  /** The whole batch's loss tokens (every share's loss is divided by it). */
  denominator: number;
}

/** Worker -> main thread. */
export type WorkerReply =
  | { kind: 'ready' }
  | { kind: 'gradients'; step: number; loss: number; grads: Float32Array[]; heapMiB: number | null }
  | { kind: 'error'; step: number | null; message: string };

/**
 * The LoRA dropout stream of share `share` at step `step` (1-based, the step numbers of
 * metrics.jsonl) with train.workers > 1: derived from (seed, step, share), so no thread needs
 * another's stream and a resumed run needs nothing saved to draw the same masks.
 */
export function shareDropoutRng(seed: number, step: number, share: number): Rng {
  return new Rng(`${seed}/dropout/step-${step}/share-${share}`);
}

/**
 * The rows of each of `count` contiguous shares of a batch of `rows` (sizes as equal as possible,
 * the first shares one row larger: 8 rows in 2 shares are rows 0-3 and 4-7).
 */
export function shareRows(rows: number, count: number): number[][] {
  if (count > rows) throw new Error(`train.workers: ${count} shares of a batch of ${rows} rows (every worker needs at least one row; lower train.workers or raise train.batchSize)`);
  const base = Math.floor(rows / count);
  const extra = rows % count;
  const shares: number[][] = [];
  let start = 0;
  for (let k = 0; k < count; k++) {
    const n = base + (k < extra ? 1 : 0);
    shares.push(Array.from({ length: n }, (_, i) => start + i));
    start += n;
  }
  return shares;
}

/** The backend of the worker threads: the main thread's, which must be tfjs's wasm or cpu (one per thread). */
export function workerBackend(workers: number, backend: string = tf.getBackend()): 'wasm' | 'cpu' {
  if (backend === 'wasm' || backend === 'cpu') return backend;
  if (backend === 'webgpu') {
    throw new Error(`train.workers: ${workers} is not supported on the webgpu backend (one GPU queue; worker threads would each open the device): use train.workers 1, or backend wasm or cpu`);
  }
  throw new Error(`train.workers: ${workers} needs the wasm or cpu backend (each worker thread runs its own tfjs), the backend is ${backend}: use train.workers 1 there`);
}

/** Starts a worker thread: the compiled entry from dist, or the TypeScript one through tsx's loader. */
function spawn(init: WorkerInit): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./gradient-worker.js', import.meta.url), { workerData: init });
  // From the sources (vitest, tsx): a worker thread gets no loader of its parent; the bootstrap
  // registers tsx's, then imports the .ts entry.
  return new Worker(new URL('./tsx-worker.mjs', import.meta.url), { workerData: { ...init, entry: new URL('./gradient-worker.ts', import.meta.url).href } });
}

/** One worker thread with at most one request in flight. */
class GradientWorker {
  private pending: { resolve: (reply: WorkerReply) => void; reject: (err: Error) => void; step: number | null } | null = null;
  /** The first failure: every later request is refused with it. */
  failure: Error | null = null;
  private exited = false;

  constructor(
    readonly share: number,
    private readonly worker: Worker,
  ) {
    worker.on('message', (reply: WorkerReply) => {
      const p = this.pending;
      this.pending = null;
      if (reply.kind === 'error') {
        this.fail(new Error(`train.workers: worker ${share} failed ${reply.step === null ? 'while building its replica' : `at step ${reply.step}`}: ${reply.message}`), p);
      } else {
        p?.resolve(reply);
      }
    });
    worker.on('error', (err) => this.fail(new Error(`train.workers: worker ${share} failed${this.pending?.step ? ` at step ${this.pending.step}` : ''}: ${err.message}`), this.takePending()));
    worker.on('exit', (code) => {
      this.exited = true;
      this.fail(new Error(`train.workers: worker ${share} exited (code ${code})${this.pending?.step ? ` at step ${this.pending.step}` : ''}`), this.takePending());
    });
  }

  private takePending() {
    const p = this.pending;
    this.pending = null;
    return p;
  }

  private fail(err: Error, pending: { reject: (err: Error) => void } | null): void {
    this.failure ??= err;
    pending?.reject(this.failure);
  }

  /** The next reply (the first one is `ready`), after posting `request` when given. */
  next(step: number | null, request?: WorkerRequest): Promise<WorkerReply> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.pending) return Promise.reject(new Error(`train.workers: worker ${this.share} is still computing step ${this.pending.step}`));
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject, step };
      if (request) this.worker.postMessage(request);
    });
  }

  async terminate(): Promise<void> {
    this.failure ??= new Error(`train.workers: worker ${this.share} was stopped`);
    if (!this.exited) await this.worker.terminate();
  }
}

/** The N-1 worker threads of `train.workers` N; `close()` ends them (the process can exit then). */
export class GradientWorkers {
  /** Each worker's wasm heap after its latest step, in MiB (a wasm heap only grows: its peak so far; null on cpu). */
  readonly heapMiB: (number | null)[];

  private constructor(private readonly workers: GradientWorker[]) {
    this.heapMiB = workers.map(() => null);
  }

  /**
   * Starts `config.train.workers - 1` workers and waits until each has built its replica (or
   * throws the first failure, naming the worker, with every worker ended).
   */
  static async start(config: MatsConfig, model: { clapDim: number; sizes: number[] }): Promise<GradientWorkers> {
    const count = config.train.workers;
    shareRows(config.train.batchSize, count);
    const backend = workerBackend(count);
    const workers = Array.from({ length: count - 1 }, (_, i) => {
      const init: WorkerInit = { share: i + 1, config, clapDim: model.clapDim, backend, sizes: model.sizes };
      return new GradientWorker(i + 1, spawn(init));
    });
    const pool = new GradientWorkers(workers);
    try {
      await Promise.all(workers.map((w) => w.next(null)));
    } catch (err) {
      await pool.close();
      throw err;
    }
    return pool;
  }

  /** Threads in all, the main one included. */
  get count(): number {
    return this.workers.length + 1;
  }

  /**
   * Posts step `step` to every worker (share k + 1 gets `shares[k]`) with the trainable values
   * before the step, and resolves to their gradients in share order. A failure rejects with the
   * worker's message, naming the worker and the step. The promise is marked handled at once, so
   * a worker failing while the main thread computes its own share is reported when it is awaited.
   */
  gradients(step: number, values: Float32Array[], shares: ShareChunk[][], denominator: number): Promise<HostGradients[]> {
    if (shares.length !== this.workers.length) throw new Error(`GradientWorkers.gradients: ${shares.length} shares for ${this.workers.length} workers`);
    const replies = this.workers.map((w, k) =>
      w.next(step, { step, values, chunks: shares[k], denominator }).then((reply): HostGradients => {
        if (reply.kind !== 'gradients' || reply.step !== step) throw new Error(`train.workers: worker ${w.share} answered step ${step} with ${JSON.stringify(reply).slice(0, 80)}`);
        this.heapMiB[k] = reply.heapMiB;
        return { loss: reply.loss, grads: reply.grads };
      }),
    );
    const all = Promise.all(replies);
    all.catch(() => {});
    return all;
  }

  /** Ends every worker thread. */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
