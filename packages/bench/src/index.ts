/** @mats/bench: see README.md. The public API is assembled here. */
export const PACKAGE_NAME = '@mats/bench';
export { ptbTokenize, ptbTokenizeRaw, ptbTokenizeToString, COCO_PUNCTUATION } from './tokenizer.js';
export {
  computeCaptionMetrics,
  type CaptionMetrics,
  type CaptionItemScores,
  type CaptionMetricOptions,
  type CaptionPredictions,
} from './caption/metrics.js';
export { computeBleu, type BleuResult } from './caption/bleu.js';
export { computeRougeL } from './caption/rouge.js';
export { computeCiderD } from './caption/cider.js';
export { runSpice, type SpiceOptions, type SpiceOutcome } from './caption/spice.js';
export {
  scoreMmau,
  mmauIsCorrect,
  mmauTokenize,
  formatMmauReport,
  joinMmauPredictions,
  type MmauBreakdown,
  type MmauItem,
  type MmauReport,
  type AccuracyCell,
} from './mmau.js';
export {
  accuracy,
  averagePrecision,
  averagePrecisionPerClass,
  meanAveragePrecision,
  matchPredictionsToLabels,
  createBagOfWordsEncoder,
  type TextEmbedder,
  type MatchOptions,
  type MatchResult,
} from './classification.js';
export { aqaAccuracy, normalizeAnswer, type AqaItem, type AqaReport, type AqaCell } from './aqa.js';
export {
  runBenchmark,
  reportsToMarkdown,
  parseBenchmarkLines,
  formatHumanLine,
  median,
  type BenchmarkOptions,
  type BenchmarkResult,
} from './harness.js';
export {
  readJsonFile,
  parseCaptionPredictions,
  parseCaptionReferences,
  parseTextPredictions,
  parseLabelFile,
  checkSameIds,
  type LabelFile,
} from './io.js';
export { runCli } from './cli.js';
