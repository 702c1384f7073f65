#!/usr/bin/env node
import { resolve } from 'node:path';
import { realpathSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { computeCaptionMetrics } from './caption/metrics.js';
import {
  accuracy,
  averagePrecisionPerClass,
  createBagOfWordsEncoder,
  matchPredictionsToLabels,
  type TextEmbedder,
} from './classification.js';
import {
  checkSameIds,
  parseCaptionPredictions,
  parseCaptionReferences,
  parseLabelFile,
  parseTextPredictions,
  readJsonFile,
} from './io.js';
import { formatMmauReport, joinMmauPredictions, scoreMmau, type MmauItem } from './mmau.js';

const USAGE = `mats-bench: metrics for MATS

  mats-bench caption --predictions P.json --references R.json [--no-tokenize] [--spice-jar spice-1.0.jar] [--java java] [--json]
      P: [{ "id", "caption" }]   R: [{ "id", "captions": [...] }]
      BLEU-1..4, ROUGE-L, CIDEr-D as pycocoevalcap; SPICE / SPIDEr only with --spice-jar and Java.
  mats-bench mmau --input X.json [--benchmark B.json] [--json]
      X: the MMAU JSON with a "model_output" field per item; official matching and breakdown (percent).
      Accuracy by the official rule (items without model_output skipped, their number printed) and
      strict (they count as wrong). --benchmark B.json: the MMAU file the questions come from; the ids
      of X must be questions of B, and answers and choices are taken from B, not from X.
  mats-bench classify --predictions P.json --labels L.json --encoder bow|MODULE.mjs [--sound-of] [--split "; "] [--json]
      P: [{ "id", "prediction" }]   L: { "labels": [class names], "items": [{ "id", "labels": [...] }] }
      Text-matched top-1 accuracy and mAP (fractions). --encoder bow is a model-free word-overlap
      encoder; MODULE.mjs must export createTextEncoder() returning { embedText(texts) -> Embeddings }.
`;

export interface CliIo {
  out: (s: string) => void;
  err: (s: string) => void;
}

class UsageError extends Error {}

/** Runs the CLI; returns the exit code (0 ok, 1 bad input, 2 bad usage). */
export async function runCli(argv: string[], io: CliIo = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) }): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'caption':
        await captionCommand(rest, io);
        return 0;
      case 'mmau':
        mmauCommand(rest, io);
        return 0;
      case 'classify':
        await classifyCommand(rest, io);
        return 0;
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        io.out(USAGE);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    }
  } catch (e) {
    const usage = e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    io.err(`mats-bench ${command ?? ''}: ${(e as Error).message}\n${usage ? `\n${USAGE}` : ''}`);
    return usage ? 2 : 1;
  }
}

function required(values: Record<string, unknown>, name: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v === '') throw new UsageError(`--${name} is required`);
  return v;
}

async function captionCommand(args: string[], io: CliIo): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      predictions: { type: 'string' },
      references: { type: 'string' },
      'no-tokenize': { type: 'boolean', default: false },
      'spice-jar': { type: 'string' },
      java: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const pFile = required(values, 'predictions');
  const rFile = required(values, 'references');
  const predictions = parseCaptionPredictions(readJsonFile(pFile, 'predictions'), pFile);
  const references = parseCaptionReferences(readJsonFile(rFile, 'references'), rFile);
  checkSameIds(predictions, `predictions ${pFile}`, references, `references ${rFile}`);
  const m = computeCaptionMetrics(predictions, references, {
    tokenize: !values['no-tokenize'],
    spiceJar: values['spice-jar'],
    spice: values.java ? { java: values.java } : undefined,
  });
  const keys = ['Bleu_1', 'Bleu_2', 'Bleu_3', 'Bleu_4', 'ROUGE_L', 'CIDEr', 'SPICE', 'SPIDEr'] as const;
  if (values.json) {
    const obj: Record<string, unknown> = {};
    for (const k of keys) obj[k] = m[k];
    if (m.spiceUnavailableReason) obj.spiceUnavailableReason = m.spiceUnavailableReason;
    io.out(JSON.stringify(obj) + '\n');
    return;
  }
  for (const k of keys) {
    const v = m[k];
    io.out(`${k}: ${v === null ? 'unavailable' : v.toFixed(3)}\n`);
  }
  if (m.spiceUnavailableReason) io.out(`(${m.spiceUnavailableReason})\n`);
  io.out(`${predictions.size} items\n`);
}

function mmauCommand(args: string[], io: CliIo): void {
  const { values } = parseArgs({ args, options: { input: { type: 'string' }, benchmark: { type: 'string' }, json: { type: 'boolean', default: false } } });
  const file = required(values, 'input');
  const input = readJsonFile(file, 'MMAU input') as MmauItem[];
  if (Array.isArray(input) && input.length > 0 && !input.some((x) => x !== null && typeof x === 'object' && x.model_output !== undefined && x.model_output !== null)) {
    throw new Error(`MMAU input ${file}: none of its ${input.length} items has a "model_output" field: this looks like the benchmark file itself, not the model's answers`);
  }
  let items = input;
  let source = `MMAU input ${file}`;
  if (values.benchmark) {
    const benchmark = readJsonFile(values.benchmark, 'MMAU benchmark') as MmauItem[];
    items = joinMmauPredictions(benchmark, input, `MMAU benchmark ${values.benchmark}`, `MMAU input ${file}`);
    source = `MMAU benchmark ${values.benchmark}`;
  }
  const report = scoreMmau(items, source);
  if (values.json) {
    const { total, task, difficulty, official } = report;
    io.out(JSON.stringify({ total, task, difficulty, 'sub-category': report['sub-category'], noPrediction: report.noPrediction, official }) + '\n');
  } else {
    io.out(formatMmauReport(report) + '\n');
  }
}

async function loadEncoder(spec: string): Promise<TextEmbedder> {
  if (spec === 'bow') return createBagOfWordsEncoder();
  const mod = (await import(pathToFileURL(resolve(spec)).href)) as Record<string, unknown>;
  const factory = (mod.createTextEncoder ?? mod.default) as (() => TextEmbedder | Promise<TextEmbedder>) | undefined;
  if (typeof factory !== 'function') throw new Error(`encoder module ${spec}: must export a function createTextEncoder() (or a default export)`);
  const encoder = await factory();
  if (!encoder || typeof encoder.embedText !== 'function') throw new Error(`encoder module ${spec}: createTextEncoder() must return an object with embedText(texts)`);
  return encoder;
}

async function classifyCommand(args: string[], io: CliIo): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      predictions: { type: 'string' },
      labels: { type: 'string' },
      encoder: { type: 'string' },
      'sound-of': { type: 'boolean', default: false },
      split: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const pFile = required(values, 'predictions');
  const lFile = required(values, 'labels');
  const encoderSpec = required(values, 'encoder');
  const predictions = parseTextPredictions(readJsonFile(pFile, 'predictions'), pFile);
  const labelFile = parseLabelFile(readJsonFile(lFile, 'labels'), lFile);
  checkSameIds(predictions, `predictions ${pFile}`, labelFile.targets, `labels ${lFile}`);
  const ids = [...labelFile.targets.keys()];
  const encoder = await loadEncoder(encoderSpec);
  const match = await matchPredictionsToLabels(
    ids.map((id) => predictions.get(id)!),
    labelFile.labels,
    encoder,
    { soundOfPrefix: values['sound-of'], multiLabelSeparator: values.split },
  );
  const targets = ids.map((id) => labelFile.targets.get(id)!);
  const acc = accuracy(match.predictedIndex, targets);
  const oneHot = targets.map((t) => {
    const row = new Array<number>(labelFile.labels.length).fill(0);
    for (const c of t) row[c] = 1;
    return row;
  });
  const perClass = averagePrecisionPerClass(match.scores, oneHot);
  const mAP = perClass.reduce((a, b) => a + b, 0) / perClass.length;
  const result = { accuracy: acc, mAP, count: ids.length, classes: labelFile.labels.length };
  if (values.json) io.out(JSON.stringify(result) + '\n');
  else io.out(`ACC: ${(acc * 100).toFixed(2)}%\nmAP: ${(mAP * 100).toFixed(2)}%\n${ids.length} items, ${labelFile.labels.length} classes\n`);
}

// Run when executed directly (the bin), not when imported by tests.
function invokedDirectly(): boolean {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}
if (invokedDirectly()) {
  runCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
