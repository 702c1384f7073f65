export {
  type Embeddings,
  type ValidateOptions,
  createEmbeddings,
  embeddingsFromRows,
  embeddingRow,
  selectRows,
  concatEmbeddings,
  rowNorms,
  l2Normalize,
  l2NormalizeInPlace,
  validateEmbeddings,
  dot,
} from './embeddings.js';
export { Rng, type RngState, hashString } from './rng.js';
export {
  type SafetensorsDtype,
  type Tensor,
  type TensorToWrite,
  type SafetensorsFile,
  readSafetensors,
  parseSafetensors,
  serializeSafetensors,
  writeSafetensors,
  getFloatTensor,
  f16ToF32,
  f32ToF16,
  f32ToBf16,
  assertFiniteTensors,
} from './safetensors.js';
export { type BackendName, type BackendInfo, type ModuleImporter, type SelectBackendOptions, BACKEND_NAMES, selectBackend, parseBackendName, describeBackend } from './backend.js';
export {
  type WebGpuAdapterInfo,
  type WebGpuProbe,
  WEBGPU_DRIVER_HINT,
  probeWebGpu,
  releaseWebGpu,
  activeWebGpu,
  assertFitsWebGpu,
  describeAdapter,
} from './webgpu.js';
export { type Progress, type ProgressOptions, createProgress, formatDuration } from './progress.js';
export { writeFileAtomic, stripBom, parseJson, readTextFile, readFileBytes } from './files.js';
export * as ops from './ops/index.js';
