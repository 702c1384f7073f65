/** @mats/llm-lora: GPT-2 (Hugging Face layout) in tfjs, tokenizers, PEFT LoRA, prefix-LM loss, generation, training helpers. */
export const PACKAGE_NAME = '@mats/llm-lora';
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
  type Projection,
  type KvCache,
  type ForwardOptions,
  type ForwardResult,
  loadCausalLM,
  createCausalLM,
  saveCausalLM,
  expectedTensors,
} from './gpt2.js';
export { geluNew, frozenLinear, trainableLinear } from './ops.js';
export { type LoraConfig, DEFAULT_LORA, LoraState, LoraProjection, applyLora, saveLora, loadLora, mergeLora } from './lora.js';
export { type PrefixLmExample, type PrefixLmBatch, type LossOptions, buildPrefixLmBatch, prefixLmLoss, weightedCrossEntropy } from './loss.js';
export { type GenerateOptions, type PrefixInput, type GenerateResult, generate, bannedNgramTokens, processLogits } from './generate.js';
export {
  type AdamWOptions,
  type AdamWState,
  type ScheduleOptions,
  type TrainStepOptions,
  type TrainStepResult,
  AdamW,
  learningRateAt,
  clipByGlobalNorm,
  trainStep,
} from './train.js';
export { embedTokensOneHot, languageModelLoss, padRows } from './pretrain.js';
