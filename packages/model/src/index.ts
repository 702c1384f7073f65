/** @mats/model: MATS itself (CLAP + Santa memory + mapper + LLM with LoRA), eq. 1-3, pipelines, the `mats` CLI. */
export const PACKAGE_NAME = '@mats/model';
export * from './onnx/index.js';
