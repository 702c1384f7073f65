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
} from './safetensors.js';
export { type BackendName, type BackendInfo, type ModuleImporter, BACKEND_NAMES, selectBackend, parseBackendName } from './backend.js';
export { type Progress, type ProgressOptions, createProgress, formatDuration } from './progress.js';
export { writeFileAtomic } from './files.js';
export * as ops from './ops/index.js';
