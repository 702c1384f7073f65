/**
 * What a model's named modules are, as far as adapters are concerned: a projection maps [rows, in]
 * to [rows, out] given the per-call context. GPT-2 exposes its projections under Hugging Face names
 * (`model.namedModules()`); LoRA wraps the ones it targets (`setModule`), GPT-2 knows nothing of it.
 */
import type * as tf from '@tensorflow/tfjs';
import type { Rng } from '@mats/core';

/** Per-call state: training mode (dropout) and the seed stream for dropout masks. */
export interface ForwardContext {
  training: boolean;
  /** Draws dropout seeds; required when training with dropout. */
  rng?: Rng;
  /**
   * The kept transpose of a frozen weight for the backward pass, when the model caches them (small
   * models, CausalLM.transposeCacheMaxBytes), else null: the projection makes it inside its backward.
   */
  transposeOf?: (weight: tf.Variable) => tf.Tensor2D | null;
}

export interface Projection {
  apply(x2d: tf.Tensor2D, ctx: ForwardContext): tf.Tensor2D;
}

/** A model whose projections can be listed by name and replaced (PEFT's named_modules / setattr). */
export interface ModuleHost {
  namedModules(): [string, Projection][];
  setModule(name: string, module: Projection): void;
}
