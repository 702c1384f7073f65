/** @mats/santa: noise injection, the k-means memory, Santa and the baseline modal-transfer methods. */
export { type NoiseOptions, type ModalityGap, injectNoise, estimateNoiseVariance, modalityGap } from './noise.js';
export { type KmeansImplementation, type KmeansOptions, type KmeansResult, kmeans, kmeansPlusPlus } from './kmeans.js';
export {
  type MemoryOptions,
  type MemoryInfo,
  type SantaMemory,
  MEMORY_DEFAULTS,
  buildMemory,
  saveMemory,
  loadMemory,
  checkMemory,
} from './memory.js';
export { type SantaOptions, type TransferMethod, SANTA_DEFAULTS, TRANSFER_METHODS, santa, transfer } from './santa.js';
export { matmulTransposed } from './linalg.js';
export {
  type GapStatistics,
  type GapStatisticsOptions,
  type LinearSeparability,
  type LogisticModel,
  type LogisticOptions,
  type NoisyTextCosine,
  type SeparabilityOptions,
  fitLogisticRegression,
  gapStatistics,
  linearSeparability,
  noisyTextCosine,
  predictLogistic,
} from './gap.js';
