/**
 * Trains the tiny CLAP of the synthetic world and evaluates it. This is the script that made
 * packages/clap/assets/tiny-clap-world/ (run from the repository root, after building):
 *
 *   NX_DAEMON=false npx nx run @mats/clap:build
 *   node packages/datasets/dist/cli.js world --out /tmp/world-default --seed 0      # the DEFAULT world
 *   npx tsx packages/clap/scripts/train-tiny-clap.ts --world /tmp/world-default --out packages/clap/assets/tiny-clap-world
 *
 * Options: --epochs N (20) --batch-size N (64) --lr X (0.002) --seed N (0) --label-prompt-rate X (0.25)
 *          --backend wasm|cpu|auto (wasm) --eval-only (evaluate the model in --out, no training)
 * Training reads pretrain.jsonl (audio, caption) pairs only. Evaluation uses held-out clips:
 * eval/classification.json (zero-shot accuracy over the world's classes, prompt
 * `This is a sound of {label}.`) and eval/captions.json (modality gap between audio and caption
 * embeddings, statistics from @mats/santa's modalityGap, plus retrieval and separability numbers
 * computed here). Results are printed and written to <out>/training.json.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { selectBackend, parseBackendName, writeFileAtomic, l2Normalize, type Embeddings } from '@mats/core';
import { loadWorld, decodeAudioFile, type AudioClip } from '@mats/datasets';
import { modalityGap } from '@mats/santa';
import { TinyClap, trainTinyClap, zeroShotClassify, cosineSimilarities, argmaxRows, type EpochInfo } from '../src/index.js';

const { values: args } = parseArgs({
  options: {
    world: { type: 'string' },
    out: { type: 'string', default: 'packages/clap/assets/tiny-clap-world' },
    epochs: { type: 'string', default: '20' },
    'batch-size': { type: 'string', default: '64' },
    lr: { type: 'string', default: '0.002' },
    seed: { type: 'string', default: '0' },
    'label-prompt-rate': { type: 'string', default: '0.25' },
    backend: { type: 'string', default: 'wasm' },
    'eval-only': { type: 'boolean', default: false },
  },
});
if (!args.world) throw new Error('--world DIR is required (generate one with: node packages/datasets/dist/cli.js world --out /tmp/world-default --seed 0)');
const num = (name: string, v: string | undefined): number => {
  const x = Number(v);
  if (!Number.isFinite(x)) throw new Error(`--${name} must be a number, got ${JSON.stringify(v)}`);
  return x;
};

const backend = await selectBackend(parseBackendName(args.backend!, '--backend'));
const world = await loadWorld(args.world);
console.log(`world ${world.dir}: seed ${world.manifest.seed}, ${world.pretrain.length} pretrain pairs, ${world.labels.length} classes; tfjs backend ${backend.selected}`);

async function decodeAll(paths: string[]): Promise<AudioClip[]> {
  const out: AudioClip[] = [];
  for (const p of paths) out.push(await decodeAudioFile(world.audioPath(p)));
  return out;
}

const started = Date.now();
let history: EpochInfo[] = [];
let model: TinyClap;
if (args['eval-only']) {
  model = TinyClap.load(args.out!);
} else {
  const clips = await decodeAll(world.pretrain.map((p) => p.audio));
  const pairs = world.pretrain.map((p, i) => ({ clip: clips[i], caption: p.caption, labels: p.labels }));
  const result = await trainTinyClap(pairs, {
    epochs: num('epochs', args.epochs),
    batchSize: num('batch-size', args['batch-size']),
    learningRate: num('lr', args.lr),
    seed: num('seed', args.seed),
    labelPromptRate: num('label-prompt-rate', args['label-prompt-rate']),
    // every class label must be in the vocabulary for zero-shot prompts
    extraVocabularyTexts: world.labels,
    progress: 'log',
    onEpoch: (e) => console.log(`epoch ${e.epoch}: loss ${e.loss.toFixed(4)}, logit scale ${e.logitScale.toFixed(2)}, ${e.seconds.toFixed(1)} s`),
  });
  model = result.model;
  history = result.history;
  model.save(args.out!, { source: 'packages/clap/scripts/train-tiny-clap.ts', world_seed: String(world.manifest.seed), world_generator: String(world.manifest.generator ?? '') });
  console.log(`saved ${args.out} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
}

// ---- zero-shot classification on held-out eval clips
const evalItems = world.eval.classification;
const evalClips = await decodeAll(evalItems.map((it) => it.audio));
const zs = await zeroShotClassify(model, evalClips, world.labels);
let correct = 0;
let singleCorrect = 0;
let singleCount = 0;
let chance = 0;
evalItems.forEach((it, i) => {
  const predicted = world.labels[zs.predictions[i]];
  const hit = it.labels.includes(predicted);
  if (hit) correct++;
  chance += it.labels.length / world.labels.length;
  if (it.labels.length === 1) {
    singleCount++;
    if (hit) singleCorrect++;
  }
});
const zeroShot = {
  items: evalItems.length,
  classes: world.labels.length,
  top1InLabels: correct / evalItems.length,
  chance: chance / evalItems.length,
  singleLabelItems: singleCount,
  singleLabelAccuracy: singleCount ? singleCorrect / singleCount : null,
  singleLabelChance: 1 / world.labels.length,
  prompt: 'This is a sound of {label}.',
};

// ---- modality gap on held-out (audio, caption) pairs
const capItems = world.eval.captions;
const capClips = await decodeAll(capItems.map((it) => it.audio));
const audioEmb = await model.embedAudio(capClips);
const textEmb = await model.embedText(capItems.map((it) => it.captions[0]));
const gap = modalityGap(audioEmb, textEmb);

function meanOffDiagonal(m: Float32Array, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j) s += m[i * n + j];
  return s / (n * (n - 1));
}
const n = audioEmb.rows;
const at = cosineSimilarities(audioEmb, textEmb);
const aa = cosineSimilarities(audioEmb, audioEmb);
const tt = cosineSimilarities(textEmb, textEmb);
// audio -> caption retrieval among the n held-out captions
const retrieved = argmaxRows(at, n);
const r1 = retrieved.filter((j, i) => j === i).length / n;
// how cleanly the two modalities separate: nearest modality centroid of every embedding
function centroid(e: Embeddings): Float64Array {
  const u = l2Normalize(e);
  const c = new Float64Array(e.dim);
  for (let i = 0; i < u.rows; i++) for (let j = 0; j < u.dim; j++) c[j] += u.data[i * u.dim + j] / u.rows;
  return c;
}
const ca = centroid(audioEmb);
const ct = centroid(textEmb);
let separable = 0;
for (const [e, own] of [[audioEmb, 'audio'], [textEmb, 'text']] as const) {
  const u = l2Normalize(e);
  for (let i = 0; i < u.rows; i++) {
    let da = 0;
    let dt = 0;
    for (let j = 0; j < u.dim; j++) {
      da += (u.data[i * u.dim + j] - ca[j]) ** 2;
      dt += (u.data[i * u.dim + j] - ct[j]) ** 2;
    }
    if ((da < dt ? 'audio' : 'text') === own) separable++;
  }
}
const gapStats = {
  pairs: n,
  fromSanta: gap,
  meanCosineUnpairedAudioText: meanOffDiagonal(at, n),
  meanCosineAudioAudio: meanOffDiagonal(aa, n),
  meanCosineTextText: meanOffDiagonal(tt, n),
  nearestCentroidModalityAccuracy: separable / (2 * n),
  audioToCaptionRecallAt1: r1,
  audioToCaptionChance: 1 / n,
};

const report = {
  world: { dir: world.dir, seed: world.manifest.seed, generator: world.manifest.generator, pretrainPairs: world.pretrain.length },
  backend: backend.selected,
  options: { epochs: num('epochs', args.epochs), batchSize: num('batch-size', args['batch-size']), lr: num('lr', args.lr), seed: num('seed', args.seed), labelPromptRate: num('label-prompt-rate', args['label-prompt-rate']) },
  history,
  logitScale: model.logitScale,
  zeroShot,
  modalityGap: gapStats,
};
if (!args['eval-only']) writeFileAtomic(join(args.out!, 'training.json'), `${JSON.stringify(report, null, 1)}\n`);
else if (existsSync(join(args.out!, 'training.json'))) console.log('(eval-only: training.json left as it was)');
console.log(
  `zero-shot over ${zeroShot.classes} classes on ${zeroShot.items} held-out clips: top-1 in labels ${(100 * zeroShot.top1InLabels).toFixed(1)}% (chance ${(100 * zeroShot.chance).toFixed(1)}%); ` +
    `single-label clips ${(100 * (zeroShot.singleLabelAccuracy ?? 0)).toFixed(1)}% of ${singleCount} (chance ${(100 / zeroShot.classes).toFixed(1)}%)`,
);
console.log(
  `modality gap on ${n} held-out pairs: centroid distance ${gap.centroidDistance.toFixed(3)}, paired cosine ${gap.meanPairedCosine.toFixed(3)}, ` +
    `unpaired audio-text cosine ${gapStats.meanCosineUnpairedAudioText.toFixed(3)}, audio-audio ${gapStats.meanCosineAudioAudio.toFixed(3)}, text-text ${gapStats.meanCosineTextText.toFixed(3)}, ` +
    `modality separable by nearest centroid ${(100 * gapStats.nearestCentroidModalityAccuracy).toFixed(1)}%, audio->caption R@1 ${(100 * r1).toFixed(1)}% (chance ${(100 / n).toFixed(2)}%)`,
);
await model.dispose();
