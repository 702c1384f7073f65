/** @mats/llm-lora: GPT-2 (Hugging Face layout) in tfjs, tokenizers, PEFT LoRA, prefix-LM loss, generation, training helpers. */
import { fileURLToPath } from 'node:url';

export const PACKAGE_NAME = '@mats/llm-lora';
/** Folder of the committed tiny GPT-2 of the default synthetic world (pass to loadCausalLM). */
export const TINY_WORLD_LM_DIR = fileURLToPath(new URL('../assets/tiny-gpt2-world/', import.meta.url));
export { type Gpt2Config, makeConfig, configFromHf, configToHf } from './config.js';
export {
  type TextTokenizer,
  type WordLevelOptions,
  END_OF_TEXT,
  gpt2Tokenizer,
  tokenizerFromJson,
  loadTokenizer,
  buildWordLevelTokenizer,
  splitWords,
} from './tokenizer.js';
export {
  CausalLM,
  Conv1D,
  type KvCache,
  type ForwardOptions,
  type ForwardResult,
  loadCausalLM,
  createCausalLM,
  saveCausalLM,
  expectedTensors,
} from './gpt2.js';
export { type ForwardContext, type Projection, type ModuleHost } from './module.js';
export {
  type LoraConfig,
  type LinearProjection,
  DEFAULT_LORA,
  LoraAdapter,
  LoraProjection,
  applyLora,
  saveLora,
  loadLora,
  mergeLora,
  matchesTarget,
} from './lora.js';
export { type PrefixLmExample, type PrefixLmBatch, type LossOptions, buildPrefixLmBatch, prefixLmLoss, weightedCrossEntropy } from './loss.js';
export {
  type GenerateOptions,
  type BatchGenerateOptions,
  type PrefixInput,
  type GenerateResult,
  type BatchDecoder,
  CausalLmDecoder,
  generate,
  generateBatch,
  bannedNgramTokens,
  processLogits,
} from './generate.js';
export {
  type AdamWOptions,
  type AdamWState,
  type AdamWStateRoute,
  type GradScale,
  type HostGradients,
  type ScheduleOptions,
  type TrainStepOptions,
  type TrainStepResult,
  AdamW,
  learningRateAt,
  clipByGlobalNorm,
  globalNorm,
  clipCoefficient,
  hostGlobalNorm,
  readScalar,
  trainStep,
  hostGradients,
  HOST_STATE_MIN_PARAMETERS,
} from './train.js';
export { embedTokensOneHot, languageModelLoss, padRows } from './pretrain.js';
