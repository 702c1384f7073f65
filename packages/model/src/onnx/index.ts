/** ONNX export and ONNX Runtime inference of a trained MATS run. See README "ONNX export". */
export { type DType, type Dim, type ValueInfo, type InitializerTensor, type TensorData, type Attr, type NodeSpec, type ModelOptions, Graph, DTYPE_CODES, IR_VERSION } from './graph.js';
export { ONNX_PROTO, onnxRoot } from './schema.js';
export { EXPORT_OPSET } from './ops.js';
export { type ModelInfo, SUPPORTED_OPSETS, inspectModel, checkOpsets } from './inspect.js';
export { DECODER_IO, type HostTensor, gpt2DecoderGraph, exportGpt2Decoder } from './export-gpt2.js';
export { MAPPER_IO, mapperGraph, exportMapper } from './export-mapper.js';
export { CLAP_AUDIO_IO, CLAP_TEXT_IO, tinyClapAudioGraph, tinyClapTextGraph, exportTinyClapAudio, exportTinyClapText } from './export-clap.js';
export {
  EXPORT_FORMAT,
  EXPORT_VERSION,
  EXPORT_FILES,
  MANIFEST_FILE,
  type ExportManifest,
  type LlmManifest,
  type MapperManifest,
  type TinyClapManifest,
  type OnnxClapManifest,
  type SantaManifest,
  type GenerationDefaults,
  validateManifest,
} from './manifest.js';
export { type ExportParts, type ExportRunOptions, type ClapSource, DEFAULT_GENERATION, exportModel, exportMatsModel, exportRun, hostWeights, llmManifest, readTinyClap } from './export-run.js';
export { type OrtModule, type OrtSession, type OrtTensor, type SessionOptions, loadOnnxRuntime, ortSessionOptions, createSession } from './ort.js';
export { type DecoderShape, OrtDecoder, decoderShape } from './decoder.js';
export { type ExportedModel, type LoadExportedOptions, type AskExportedItem, type AskExportedOptions, OrtMapper, OrtTinyClap, OrtLlm, askExported, isExportFolder, loadExported, readManifest } from './runtime.js';
export { ExportedMatsModel, ExportedModelError, manifestSpec } from './exported-model.js';
export { EXPORT_USAGE, type ExportCommandResult, exportCommand } from './export-cli.js';
