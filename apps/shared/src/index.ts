/** @mats/app-shared: what the trainer and evaluator apps share (private to this repository). */
export { ConfigSchema, StudySchema, type StudyConfig, ConfigError, type MatsConfig, type Override, type ResolveOptions, resolveConfig, readConfigFile, deepMerge, SANTA_METHODS, type SantaMethod, EVAL_TASKS, type EvalTask } from './config.js';
export { presets, PRESET_NAMES, type PresetName } from './presets.js';
export { type ArgSpec, type ParsedArgs, parseArgs, parseShard } from './args.js';
export { baseDir, resolvePath } from './paths.js';
export { RUN_FILES, type CheckpointRef, type RunLock, appendMetrics, readMetrics, repairMetrics, lastMetricValue, truncateMetrics, cleanCheckpointTemps, lockRun, lockFileOf, pointLatest, writeCheckpoint, latestCheckpoint, writeJson, readJson } from './runs.js';
export {
  type CacheSpec, type CacheLayout, cacheLayout, shardParts, embedParts, missingParts, mergeParts, readMerged, listParts, hashItems,
  itemsHasher, type StreamCacheSpec, streamCacheLayout, streamPartFile, partProblem, embedStreamParts, PartCache, type PartCacheOptions,
} from './cache.js';
export { pca } from './pca.js';
export { renderSvg, renderPng, writePng, lossCurveSpec, embeddingPanelsSpec, type LossPoint, type ScatterPoint } from './plots.js';
export { loadClap, loadLlm, clapFingerprint, modelSpec } from './models.js';
export { ensureWorld } from './world.js';
export { writeLossCurve, writeFigure3, tryPicture, type Figure3Stats, type SkippedClip } from './figures.js';
export { runVersions } from './versions.js';
