/** @mats/model: MATS itself (CLAP + Santa memory + mapper + LLM with LoRA), eq. 1-3, pipelines, the `mats` CLI. */
export const PACKAGE_NAME = '@mats/model';
export {
  type MatsModelSpec,
  type ClapComponent,
  type SantaSettings,
  type GenerationSettings,
  type MapperSettings,
  type LoraSettings,
  type RunConfigLike,
  modelSpecFromConfig,
  worldModelSpec,
  checkRunConfig,
} from './config.js';
export {
  MatsModel,
  MatsItemsError,
  type LoadedMatsModel,
  type InferenceSpec,
  type AudioInput,
  type AskItem,
  type Answer,
  type AnswerOptions,
  type LoadOptions,
  type TrainingBatch,
  type TrainingLossOptions,
} from './model.js';
export { TrainingReplica } from './replica.js';
export { RUN_FILES, MODEL_FILE, resolveComponent } from './files.js';
export { runCli, USAGE } from './cli-main.js';
export {
  pipeline,
  PIPELINE_TASKS,
  type PipelineTask,
  type QuestionAnswer,
  type Caption,
  type Classification,
  type QuestionAnsweringPipeline,
  type CaptioningPipeline,
  type ClassificationPipeline,
} from './pipeline.js';
export * from './onnx/index.js';
