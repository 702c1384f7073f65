/**
 * Caption-metric scoring throughput: 5 000 candidate captions, 5 references each, through the full
 * pycocoevalcap pipeline (PTB tokenisation, BLEU-1..4, ROUGE-L, CIDEr-D). Run:
 *   npx tsx packages/bench/bench/metrics.bench.ts
 */
import { Rng } from '@mats/core';
import { computeCaptionMetrics, runBenchmark } from '../src/index.js';

const ITEMS = Number(process.env.BENCH_ITEMS ?? 5000);
const REFS = 5;

// A deterministic caption generator with a realistic vocabulary and length (8-14 words).
const subjects = ['a dog', 'a man', 'a woman', 'birds', 'a car', 'rain', 'a crowd', 'a child', 'water', 'an engine', 'wind', 'a bell'];
const verbs = ['barks', 'speaks', 'sings', 'chirp', 'passes by', 'falls', 'cheers', 'laughs', 'flows', 'idles', 'blows', 'rings'];
const places = ['in the distance', 'on a metal roof', 'near a busy road', 'in a park', 'inside a room', 'under a bridge', 'by the sea'];
const extras = ['loudly', 'softly', 'while music plays', 'and people talk', 'as a door closes', 'then it stops', 'repeatedly'];
const rng = new Rng(20261127);
const pick = <T>(xs: T[]) => xs[rng.int(xs.length)];
const caption = () => `${pick(subjects)} ${pick(verbs)} ${pick(places)} ${pick(extras)}.`;

const predictions: Record<string, string> = {};
const references: Record<string, string[]> = {};
for (let i = 0; i < ITEMS; i++) {
  predictions[`clip${i}`] = caption();
  references[`clip${i}`] = Array.from({ length: REFS }, caption);
}

let last = 0;
await runBenchmark('bench/caption-metrics', () => {
  last = computeCaptionMetrics(predictions, references).CIDEr;
}, { warmup: 1, repeats: 5, itemsPerRun: ITEMS, params: { items: ITEMS, referencesPerItem: REFS, tokenize: true } });
if (!Number.isFinite(last)) throw new Error('CIDEr-D was not finite');
