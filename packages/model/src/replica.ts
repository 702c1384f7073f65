/**
 * A training replica: the trainable part of a MATS model without CLAP or Santa's memory, for a
 * data-parallel worker thread that computes the loss and gradients of its share of a batch from
 * CLAP rows the main thread sends (the embeddings are cached; no encoder is needed).
 */
import * as tf from '@tensorflow/tfjs';
import type { CausalLM, LoraAdapter, TextTokenizer } from '@mats/llm-lora';
import type { TransformerMapper } from '@mats/mapper';
import type { MatsModelSpec } from './config.js';
import { type TrainingBatch, type TrainingLossOptions, checkMapperFitsLlm, createTrainables, prefixTrainingLoss } from './model.js';

export class TrainingReplica {
  private constructor(
    readonly spec: MatsModelSpec,
    readonly llm: CausalLM,
    private readonly tokenizer: TextTokenizer,
    readonly mapper: TransformerMapper,
    readonly adapter: LoraAdapter,
  ) {}

  /**
   * The mapper (for `clapDim`-wide CLAP rows) and the LoRA adapter on the frozen `llm`, as
   * `MatsModel.create(spec, ...)` builds them: the same trainable variables in the same order.
   */
  static create(spec: MatsModelSpec, parts: { llm: CausalLM; clapDim: number }): TrainingReplica {
    const { tokenizer, mapper, adapter } = createTrainables(spec, parts.llm, parts.clapDim);
    try {
      checkMapperFitsLlm(mapper, parts.llm);
    } catch (err) {
      mapper.dispose();
      adapter.dispose();
      throw err;
    }
    return new TrainingReplica(spec, parts.llm, tokenizer, mapper, adapter);
  }

  /** The mapper's tensors, then the adapter's: MatsModel.trainableVariables' order. */
  get trainableVariables(): tf.Variable[] {
    return [...this.mapper.trainableVariables, ...this.adapter.variables()];
  }

  /** MatsModel.trainingLoss on this replica's parts (eq. 1-2). */
  trainingLoss(batch: TrainingBatch, options: TrainingLossOptions = {}): tf.Scalar {
    return prefixTrainingLoss(this.llm, this.tokenizer, this.mapper, batch, options);
  }

  /** Sets every trainable tensor (values in trainableVariables' order, e.g. the main model's after a step). */
  setTrainableValues(values: Float32Array[]): void {
    const vars = this.trainableVariables;
    if (values.length !== vars.length) throw new Error(`TrainingReplica.setTrainableValues: ${values.length} arrays for ${vars.length} trainable tensors`);
    vars.forEach((v, i) => {
      if (values[i].length !== v.size) throw new Error(`TrainingReplica.setTrainableValues: array ${i} has ${values[i].length} values, tensor "${v.name}" has ${v.size}`);
      const next = tf.tensor(values[i], v.shape, 'float32');
      v.assign(next);
      next.dispose();
    });
  }

  /** Frees the mapper, the adapter and the LLM. */
  dispose(): void {
    this.mapper.dispose();
    this.adapter.dispose();
    this.llm.dispose();
  }
}
