/**
 * `nx run evaluator:study`: the paper's Table 4 and Figure 4 over several seeds. For each seed it
 * trains MATS, MATS without noise (w/o GN), MATS-Audio and one MATS run per swept noise variance
 * (through the trainer's `train()`), evaluates every Table 4 row and the variance sweep on the
 * tasks, and writes study.json, study.md and plots under `<runsDir>/<study.name>/`, beside the
 * CLAP gap statistics. Finished trainings and evaluations are reused; interrupted trainings resume.
 */
import { copyFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Embeddings, concatEmbeddings, createProgress, formatDuration, writeFileAtomic } from '@mats/core';
import { type ClapEncoder, embedAudioFiles } from '@mats/clap';
import { captionInstruction } from '@mats/datasets';
import { type GapStatistics, gapStatistics } from '@mats/santa';
import { ConfigSchema, type EvalTask, type MatsConfig, RUN_FILES, type SantaMethod, StudySchema, type StudyConfig, ensureWorld, loadClap, readJson, resolvePath, writeJson, writePng } from '@mats/app-shared';
import { runDirOf, train } from '@mats/trainer-app';
import { type ItemEmbeddings, answerItems, closeRun, embedItems, openRun, readRunConfig } from './model.js';
import { markdownTable } from './report.js';
import { TRANSFER_INPUTS, type TransferDiagnostics, type TransferPair, transferDiagnostics } from './study-transfer.js';
import { type PreparedTask, type TableRow, prepareTask } from './tasks.js';
import { table4Spec, varianceSpec } from './study-plots.js';
import { type Stat, meanStd } from './study-stats.js';

export { type Stat, meanStd };

export interface StudyOptions {
  log?: (line: string) => void;
  progress?: 'bar' | 'log' | 'silent';
  /** A CLAP encoder supplied by the caller (tests): used for training, evaluation and the gap statistics. */
  clap?: ClapEncoder;
}

/** The trainings of one seed: MATS at the configured variance, w/o GN, MATS-Audio and the sweep's other variances. */
export type StudyRunKind = 'mats' | 'no-noise' | 'audio' | `var-${number}`;

/** One Table 4 row: which training, evaluated with which modal transfer. */
export const STUDY_ROWS: { key: string; label: string; short: string; run: 'mats' | 'no-noise' | 'audio'; method: SantaMethod }[] = [
  { key: 'mats', short: 'MATS', label: 'MATS (noise + Santa)', run: 'mats', method: 'santa' },
  { key: 'noise-only', short: 'noise-only (w/o MB)', label: 'noise-only (w/o MB)', run: 'mats', method: 'noise-only' },
  { key: 'memory-only', short: 'memory-only', label: 'memory-only (DRCap-style)', run: 'mats', method: 'memory-only' },
  { key: 'no-kmeans', short: 'w/o K-means', label: 'Santa w/o K-means', run: 'mats', method: 'no-kmeans' },
  { key: 'no-audio', short: 'w/o AE', label: 'Santa w/o AE (lambda = 1)', run: 'mats', method: 'no-audio' },
  { key: 'no-noise', short: 'w/o GN', label: 'w/o GN (trained without noise, Santa)', run: 'no-noise', method: 'santa' },
  { key: 'audio', short: 'MATS-Audio', label: 'MATS-Audio (trained on audio, no transfer)', run: 'audio', method: 'noise-only' },
];

/** What the paper says about msclap's gap (no numbers are given there). */
export const MSCLAP_PAPER = {
  clap: 'msclap 2023 (1024-d), as used by the paper',
  statements: [
    "Figure 3 a) (t-SNE of 350 language embeddings and their paired audio embeddings from the MATS-Audio training set): \"CLAP's audio and language embeddings occupy entirely separate regions\" (section 3.4).",
    'Appendix C.1: with Gaussian noise on the text "the language and audio embeddings remain distributed near opposite ends" (Figure 3 b); Santa "integrates the two modalities into a more unified and cohesive distribution" (Figure 3 d).',
    'Section 3.2: the noise variance is "determined by calculating the infinity norm between audio and language embeddings over a set of 30 randomly selected samples"; the paper trains with 0.015 and finds it best in its Figure 4 sweep.',
  ],
  numbers: 'The paper reports no paired cosine, centroid distance or separability for msclap.',
};

/** The study settings of a config: its `study` group with every default filled in. */
export function studySettings(config: MatsConfig): StudyConfig {
  return StudySchema.parse(config.study ?? {});
}

/** The noise variance of a run kind. */
function varianceOf(kind: StudyRunKind, main: number): number {
  if (kind === 'no-noise') return 0;
  if (kind.startsWith('var-')) return Number(kind.slice(4));
  return main;
}

/** The run of the sweep at variance `v`: 0 is the w/o GN run, the configured variance the MATS run. */
function sweepRun(v: number, main: number): StudyRunKind {
  if (v === 0) return 'no-noise';
  if (v === main) return 'mats';
  return `var-${v}`;
}

/** The config of one training of the study (its folder: `<runsDir>/<study>/runs/<kind>-s<seed>`). */
export function studyRunConfig(base: MatsConfig, kind: StudyRunKind, seed: number): MatsConfig {
  const study = studySettings(base);
  const { study: _study, ...rest } = structuredClone(base);
  const config = {
    ...rest,
    name: `${kind}-s${seed}`,
    runsDir: join(base.runsDir, study.name, 'runs'),
    seed,
    train: {
      ...rest.train,
      steps: study.steps ?? base.train.steps,
      variant: kind === 'audio' ? ('audio' as const) : ('text' as const),
      noiseVariance: varianceOf(kind, base.train.noiseVariance),
    },
  };
  return ConfigSchema.parse(config);
}

/** A config without what does not change a training's result: the evaluation settings and wasmThreads (speed only). */
function withoutEval(config: MatsConfig): unknown {
  const { eval: _eval, wasmThreads: _threads, ...rest } = config;
  return rest;
}

function valueAt(value: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((node, key) => (node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined), value);
}

/** The dotted path of the first field where two JSON values differ, or null. */
function firstDifference(a: unknown, b: unknown, path = ''): string | null {
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object' || Array.isArray(a) !== Array.isArray(b)) {
    return JSON.stringify(a) === JSON.stringify(b) ? null : path || '(top level)';
  }
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const d = firstDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], path ? `${path}.${k}` : k);
    if (d) return d;
  }
  return null;
}

interface Trained {
  dir: string;
  /** True when this invocation trained (or finished) the run; false when a finished one was reused. */
  trained: boolean;
  summary: Record<string, unknown>;
}

/**
 * Trains a run unless a finished one is there; an unfinished one resumes. A stored run whose training
 * settings differ from `config` (anything but the evaluation settings) is an error naming the field.
 */
async function ensureTrained(config: MatsConfig, pictures: boolean, options: StudyOptions, log: (line: string) => void): Promise<Trained> {
  const dir = runDirOf(config);
  const summaryFile = join(dir, RUN_FILES.summary);
  const quiet = { pictures, progress: options.progress, log, components: options.clap ? { clap: options.clap } : undefined };
  if (existsSync(join(dir, RUN_FILES.config))) {
    // Parsed, so that a field added to the config since (with its default) is not a difference.
    const parsed = ConfigSchema.safeParse(readJson<{ config: unknown }>(join(dir, RUN_FILES.config), 'run config').config);
    if (!parsed.success) throw new Error(`study: ${join(dir, RUN_FILES.config)} is not a config of this version (${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}); delete that folder to train it again`);
    const stored = parsed.data;
    const diff = firstDifference(withoutEval(stored), withoutEval(config));
    if (diff) {
      throw new Error(
        `study: ${dir} was trained with a different ${diff} (stored ${JSON.stringify(valueAt(stored, diff))}, the study now asks ${JSON.stringify(valueAt(config, diff))}); ` +
          'a study reuses its trainings, so run a changed study under another --name, or delete that folder to train it again',
      );
    }
  }
  if (existsSync(summaryFile)) {
    const summary = readJson<Record<string, unknown>>(summaryFile, 'train summary');
    if (summary.steps !== config.train.steps) throw new Error(`study: ${summaryFile}: ${String(summary.steps)} steps, but its config.json says ${config.train.steps}`);
    log(`study: ${config.name}: finished (${config.train.steps} steps), reused`);
    return { dir, trained: false, summary };
  }
  if (existsSync(dir)) {
    log(`study: ${config.name}: unfinished, resuming`);
    await train(config, { ...quiet, resume: true });
  } else {
    log(`study: ${config.name}: training ${config.train.steps} steps`);
    await train(config, quiet);
  }
  return { dir, trained: true, summary: readJson<Record<string, unknown>>(summaryFile, 'train summary') };
}

export interface Headline {
  metric: string;
  value: number;
  chance: number;
  failed: number;
  items: number;
}

interface EvalRecord {
  key: string;
  headline: Headline;
}

/**
 * Evaluates one trained run with some methods on the tasks, reusing what was evaluated before with
 * the same training (its summary) and evaluation settings. Returns headline[method][task].
 */
async function evaluateRun(
  trained: Trained,
  methods: SantaMethod[],
  tasks: PreparedTask[],
  base: MatsConfig,
  evalDir: string,
  options: StudyOptions,
  log: (line: string) => void,
): Promise<Record<string, Record<string, Headline>>> {
  const runConfig = readRunConfig(trained.dir).config;
  const config: MatsConfig = { ...runConfig, eval: { ...base.eval, run: trained.dir } };
  const keyOf = (task: EvalTask, method: SantaMethod) =>
    JSON.stringify({ summary: trained.summary, task, method, eval: { limit: base.eval.limit, generation: base.eval.generation, data: base.eval[task] }, santa: runConfig.santa });
  const fileOf = (task: EvalTask, method: SantaMethod) => join(evalDir, `${task}-${method}.json`);
  const out: Record<string, Record<string, Headline>> = {};
  const todo: [SantaMethod, PreparedTask][] = [];
  for (const method of methods) {
    out[method] = {};
    for (const task of tasks) {
      const file = fileOf(task.task, method);
      const cached = existsSync(file) ? readJson<EvalRecord>(file, 'study evaluation') : null;
      if (cached && cached.key === keyOf(task.task, method)) out[method][task.task] = cached.headline;
      else todo.push([method, task]);
    }
  }
  if (todo.length === 0) {
    log(`study: ${config.name}: evaluations reused (${methods.join(', ')})`);
    return out;
  }
  const run = await openRun(trained.dir, config, options.clap);
  try {
    const embs = new Map<EvalTask, ItemEmbeddings>();
    for (const [method, task] of todo) {
      if (!embs.has(task.task)) {
        const progress = createProgress({ label: `${config.name} ${task.task}: embed audio`, total: task.items.length, unit: 'clips', mode: options.progress });
        embs.set(task.task, await embedItems(run, task.items, config.clap.batchSize, (done) => progress.update(done)));
        progress.stop();
      }
      const progress = createProgress({ label: `${config.name} [${method}] ${task.task}: generate`, total: task.items.length, unit: 'items', mode: options.progress });
      const answers = await answerItems(run, task.items, embs.get(task.task)!, method, (done) => progress.update(done));
      progress.stop();
      const outcome = await task.score(answers, run);
      const headline: Headline = { ...outcome.headline, failed: outcome.failures.length, items: outcome.items };
      writeJson(join(evalDir, `${task.task}-${method}-predictions.json`), outcome.predictions);
      writeJson(fileOf(task.task, method), { key: keyOf(task.task, method), headline } satisfies EvalRecord);
      out[method][task.task] = headline;
      log(`study: ${config.name} [${method}] ${task.task}: ${headline.metric} ${headline.value.toFixed(4)}`);
    }
  } finally {
    await closeRun(run);
  }
  return out;
}

/**
 * The transfer diagnostics of one trained run (study-transfer.ts) on the captioning pairs, with the
 * study's MATS noise variance for the noisy-text input; reused when the training is unchanged.
 */
async function diagnoseRun(trained: Trained, base: MatsConfig, file: string, seed: number, options: StudyOptions, log: (line: string) => void): Promise<TransferDiagnostics> {
  const study = studySettings(base);
  const variance = base.train.noiseVariance;
  const key = JSON.stringify({ summary: trained.summary, pairs: study.gapPairs, data: base.eval.caption, variance, seed });
  if (existsSync(file)) {
    const cached = readJson<{ key: string; diagnostics: TransferDiagnostics }>(file, 'transfer diagnostics');
    if (cached.key === key) return cached.diagnostics;
  }
  const runConfig = readRunConfig(trained.dir).config;
  const run = await openRun(trained.dir, { ...runConfig, eval: { ...base.eval, run: trained.dir } }, options.clap);
  try {
    const { pairs } = captionPairs(base, study.gapPairs);
    const usable: TransferPair[] = [];
    for (let i = 0; i < pairs.length; i += base.clap.batchSize) {
      const batch = pairs.slice(i, i + base.clap.batchSize);
      const emb = await run.embedAudio(batch.map((p) => p.audio));
      batch.forEach((p, k) => {
        const v = emb.vectors[k];
        if (v) usable.push({ audio: v, caption: p.text, instruction: captionInstruction(p.music ? 'music' : 'sound') });
        else log(`study: transfer diagnostics skip ${p.audio}: ${emb.errors[k]}`);
      });
    }
    if (run.engine !== 'tfjs') throw new Error(`study: ${trained.dir} opened as an ONNX export; the transfer diagnostics need a trained run folder`);
    const diagnostics = await transferDiagnostics(run, usable, variance, seed);
    writeJson(file, { key, diagnostics });
    log(`study: ${runConfig.name}: caption loss text ${diagnostics.loss.text.toFixed(3)}, noisy text ${diagnostics.loss.noisyText.toFixed(3)}, audio ${diagnostics.loss.audio.toFixed(3)}, santa ${diagnostics.loss.santa.toFixed(3)}`);
    return diagnostics;
  } finally {
    await closeRun(run);
  }
}

/** The first `count` (clip path, first reference caption) pairs of the captioning set. */
function captionPairs(base: MatsConfig, count: number): { file: string; pairs: { audio: string; text: string; music: boolean }[] } {
  const file = resolvePath(base.eval.caption.data);
  const audioDir = resolvePath(base.eval.caption.audioDir);
  const items = readJson<{ audio?: unknown; captions?: unknown; audioType?: unknown }[]>(file, 'captioning data').slice(0, count);
  const pairs = items.map((item, i) => {
    if (typeof item.audio !== 'string' || !Array.isArray(item.captions) || typeof item.captions[0] !== 'string') {
      throw new Error(`${file}: item ${i}: expected "audio" (a path) and "captions" (a list of strings)`);
    }
    return { audio: resolve(audioDir, item.audio), text: item.captions[0] as string, music: item.audioType === 'music' };
  });
  return { file, pairs };
}

/** Embeds up to `count` (clip, first caption) pairs of the captioning set and measures the gap. */
async function clapGap(base: MatsConfig, count: number, variances: number[], clap: ClapEncoder): Promise<{ data: string; stats: GapStatistics }> {
  const { file, pairs } = captionPairs(base, count);
  const parts: Embeddings[] = [];
  const batch = base.clap.batchSize;
  for (let i = 0; i < pairs.length; i += batch) {
    parts.push(await embedAudioFiles(clap, pairs.slice(i, i + batch).map((p) => p.audio)));
  }
  const text = await clap.embedText(pairs.map((p) => p.text));
  return { data: file, stats: gapStatistics(concatEmbeddings(parts), text, { variances, seed: 0 }) };
}

export interface StudyCell {
  perSeed: Record<string, number>;
  stat: Stat;
}

export interface StudyResult {
  outDir: string;
  json: Record<string, unknown>;
  markdown: string;
  /** Trainings this invocation ran (empty when everything was reused). */
  trainedRuns: string[];
}

function cell(perSeed: Record<string, Headline>): StudyCell {
  const values = Object.fromEntries(Object.entries(perSeed).map(([s, h]) => [s, h.value]));
  return { perSeed: values, stat: meanStd(Object.values(values)) };
}

function fmtValue(v: number, metric: string): string {
  return metric.includes('%') ? v.toFixed(2) : v.toFixed(4);
}

export function fmtStat(s: Stat, metric: string): string {
  return s.std === null ? `${fmtValue(s.mean, metric)} (1 seed)` : `${fmtValue(s.mean, metric)} ± ${fmtValue(s.std, metric)}`;
}

/** The gap statistics alone (`study --gap-only`), written to `<study>/gap.json` and `gap.md`. */
export async function runGapOnly(base: MatsConfig, options: StudyOptions = {}): Promise<{ outDir: string; markdown: string; stats: GapStatistics }> {
  const study = studySettings(base);
  const outDir = resolvePath(join(base.runsDir, study.name));
  if (base.world) await ensureWorld(base, options.log ?? ((line: string) => process.stderr.write(`${line}\n`)));
  const clap = options.clap ?? (await loadClap(base));
  try {
    const variances = [...new Set([base.train.noiseVariance, ...study.variances])].sort((a, b) => a - b);
    const gap = await clapGap(base, study.gapPairs, variances, clap);
    const markdown = gapMarkdown(gap.stats, gap.data, base, options.clap !== undefined);
    writeJson(join(outDir, 'gap.json'), { clap: clapName(base, options.clap !== undefined), data: gap.data, stats: gap.stats, msclapPaper: MSCLAP_PAPER, createdAt: new Date().toISOString() });
    writeFileAtomic(join(outDir, 'gap.md'), markdown);
    return { outDir, markdown, stats: gap.stats };
  } finally {
    if (!options.clap) await clap.dispose();
  }
}

function clapName(config: MatsConfig, supplied = false): string {
  if (supplied) return 'the CLAP encoder supplied by the caller';
  return config.clap.kind === 'tiny' ? `tiny CLAP ${config.clap.dir}` : `ONNX CLAP ${config.clap.audioModel}`;
}

function gapMarkdown(g: GapStatistics, data: string, config: MatsConfig, supplied: boolean): string {
  const rows: TableRow[] = [
    ['pairs (clip, first reference caption)', String(g.pairs), '-'],
    ['embedding dimension', String(g.dim), '1024'],
    ['mean paired cosine (audio, its caption)', g.meanPairedCosine.toFixed(4), 'not reported'],
    ['mean paired distance', g.meanPairedDistance.toFixed(4), 'not reported'],
    ['centroid distance (audio cloud vs text cloud)', g.centroidDistance.toFixed(4), 'not reported'],
    [
      `linear separability (held-out accuracy, ${g.separability.trainPairs} / ${g.separability.testPairs} pairs)`,
      `${(100 * g.separability.accuracy).toFixed(1)}% (train ${(100 * g.separability.trainAccuracy).toFixed(1)}%)`,
      '"entirely separate regions" (Figure 3 a)',
    ],
    ['noise std estimate: mean inf-norm of (audio - text)', g.meanInfNorm.toFixed(4), 'not reported'],
    ['noise variance estimate (std^2, DESIGN.md)', g.noiseVariance.toFixed(5), '0.015 used'],
    ...g.noisyTextCosine.map((c): TableRow => [
      `cos(noisy text, clean text) at variance ${c.variance}${c.variance === config.train.noiseVariance ? ' (configured)' : ''}`,
      `${c.measured.toFixed(4)} (1/sqrt(1+d v) = ${c.expected.toFixed(4)})`,
      c.variance === 0.015 ? `${(1 / Math.sqrt(1 + 1024 * 0.015)).toFixed(4)} at d = 1024 (1/sqrt(1+d v))` : '-',
    ]),
  ];
  return [
    `## CLAP modality gap: ${clapName(config, supplied)} vs msclap`,
    '',
    `Pairs from \`${data}\`; embeddings L2-normalised. Separability: logistic regression (L2 ${g.separability.l2}), audio vs text, fitted on half of the pairs and scored on both embeddings of the other half (0.5 = the clouds overlap, 1.0 = a hyperplane separates them).`,
    '',
    markdownTable(['statistic', 'this CLAP', 'msclap (paper)'], rows),
    '',
    'What the paper states about msclap:',
    '',
    ...MSCLAP_PAPER.statements.map((s) => `- ${s}`),
    `- ${MSCLAP_PAPER.numbers}`,
    '',
  ].join('\n');
}

/** Runs (or continues) the study of `base` (its `study` group, defaults filled in). */
export async function runStudy(base: MatsConfig, options: StudyOptions = {}): Promise<StudyResult> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const started = Date.now();
  const study = studySettings(base);
  const main = base.train.noiseVariance;
  if (main === 0) throw new Error('train.noiseVariance: the study compares MATS (with noise) to w/o GN, so the configured variance must be > 0');
  const outDir = resolvePath(join(base.runsDir, study.name));
  const seeds = study.seeds;
  if (new Set(seeds).size !== seeds.length) throw new Error(`study.seeds: ${JSON.stringify(seeds)} lists a seed twice`);
  const variances = [...new Set(study.variances)].sort((a, b) => a - b);
  if (base.world) await ensureWorld(base, log);
  const tasks = study.tasks.map((t) => prepareTask(t, base));
  const trainedRuns: string[] = [];
  const runs: Record<string, { dir: string; steps: unknown; finalLoss: unknown; validationLoss: unknown; seconds: unknown }> = {};
  const table: Record<string, Record<string, Record<string, Headline>>> = {}; // row -> seed -> task
  const sweep: Record<string, Record<string, Record<string, Headline>>> = {}; // variance -> seed -> task
  for (const row of STUDY_ROWS) table[row.key] = {};
  for (const v of variances) sweep[String(v)] = {};
  const transfer: Record<'mats' | 'no-noise' | 'audio', Record<string, TransferDiagnostics>> = { mats: {}, 'no-noise': {}, audio: {} };

  const kinds: StudyRunKind[] = ['mats', 'no-noise', 'audio', ...variances.map((v) => sweepRun(v, main)).filter((k) => k.startsWith('var-'))];
  const totalRuns = kinds.length * seeds.length;
  let done = 0;
  for (const seed of seeds) {
    const results = new Map<StudyRunKind, Record<string, Record<string, Headline>>>();
    for (const kind of kinds) {
      const config = studyRunConfig(base, kind, seed);
      log(`study: training ${++done} of ${totalRuns}, ${config.name} (${formatDuration((Date.now() - started) / 1000)} so far)`);
      const trained = await ensureTrained(config, kind === 'mats' && seed === seeds[0], options, log);
      if (trained.trained) trainedRuns.push(config.name);
      const s = trained.summary;
      runs[config.name] = { dir: trained.dir, steps: s.steps, finalLoss: s.finalLoss, validationLoss: s.validationLoss, seconds: s.seconds };
      const methods = kind === 'mats' ? STUDY_ROWS.filter((r) => r.run === 'mats').map((r) => r.method) : kind === 'audio' ? (['noise-only'] as SantaMethod[]) : (['santa'] as SantaMethod[]);
      results.set(kind, await evaluateRun(trained, methods, tasks, base, join(outDir, 'evals', config.name), options, log));
      if (kind === 'mats' || kind === 'no-noise' || kind === 'audio') {
        transfer[kind][seed] = await diagnoseRun(trained, base, join(outDir, 'evals', config.name, 'transfer.json'), seed, options, log);
      }
    }
    for (const row of STUDY_ROWS) table[row.key][seed] = results.get(row.run)![row.method];
    for (const v of variances) sweep[String(v)][seed] = results.get(sweepRun(v, main))!.santa;
  }

  const taskNames = tasks.map((t) => t.task);
  const first = table.mats[seeds[0]];
  const metric = Object.fromEntries(taskNames.map((t) => [t, first[t].metric]));
  const chance = Object.fromEntries(taskNames.map((t) => [t, first[t].chance]));
  const perTask = (bySeed: Record<string, Record<string, Headline>>) =>
    Object.fromEntries(taskNames.map((t) => [t, cell(Object.fromEntries(seeds.map((s) => [String(s), bySeed[s][t]])))]));
  const table4 = STUDY_ROWS.map((row) => ({ key: row.key, label: row.label, short: row.short, run: row.run, method: row.method, tasks: perTask(table[row.key]) }));
  const varianceCurve = variances.map((v) => ({ variance: v, run: sweepRun(v, main), tasks: perTask(sweep[String(v)]) }));

  // The CLAP gap (the same CLAP for every seed).
  const clap = options.clap ?? (await loadClap(base));
  let gap: { data: string; stats: GapStatistics };
  try {
    gap = await clapGap(base, study.gapPairs, [...new Set([main, ...variances])].sort((a, b) => a - b), clap);
  } finally {
    if (!options.clap) await clap.dispose();
  }

  // Pictures: Table 4 bars and the variance curve with error bars; the first seed's Figure 3.
  await writePng(join(outDir, 'table4.png'), table4Spec(table4, taskNames, metric, chance, seeds.length));
  await writePng(join(outDir, 'variance.png'), varianceSpec(varianceCurve, taskNames, metric, chance, seeds.length));
  const figureRun = runs[`mats-s${seeds[0]}`].dir;
  let figure3: unknown = null;
  if (existsSync(join(figureRun, RUN_FILES.figure3))) {
    copyFileSync(join(figureRun, RUN_FILES.figure3), join(outDir, `figure3-seed${seeds[0]}.png`));
    if (existsSync(join(figureRun, 'figure3.json'))) figure3 = readJson(join(figureRun, 'figure3.json'), 'figure 3 statistics');
  }

  const json = {
    name: study.name,
    settings: { seeds, steps: study.steps ?? base.train.steps, variances, tasks: taskNames, configuredVariance: main, evalLimit: base.eval.limit, preset: base.preset },
    metrics: metric,
    chance,
    runs,
    table4,
    variance: varianceCurve,
    gap: { clap: clapName(base, options.clap !== undefined), data: gap.data, stats: gap.stats, msclapPaper: MSCLAP_PAPER },
    transfer: transferSummary(transfer, seeds),
    figure3: figure3 === null ? null : { file: `figure3-seed${seeds[0]}.png`, stats: figure3 },
    trainedThisInvocation: trainedRuns,
    seconds: Math.round((Date.now() - started) / 100) / 10,
    createdAt: new Date().toISOString(),
  };
  writeJson(join(outDir, 'study.json'), json);
  const markdown = studyMarkdown(json, gapMarkdown(gap.stats, gap.data, base, options.clap !== undefined));
  writeFileAtomic(join(outDir, 'study.md'), markdown);
  log(`study: written to ${outDir} in ${formatDuration((Date.now() - started) / 1000)} (${trainedRuns.length} training(s) this time)`);
  return { outDir, json, markdown, trainedRuns };
}

type TransferRun = 'mats' | 'no-noise' | 'audio';

/** Mean and std over seeds of every transfer diagnostic, per trained run kind. */
function transferSummary(byRun: Record<TransferRun, Record<string, TransferDiagnostics>>, seeds: number[]) {
  const summarise = (perSeed: Record<string, TransferDiagnostics>) => {
    const of = (pick: (d: TransferDiagnostics) => number) => meanStd(seeds.map((seed) => pick(perSeed[seed])));
    const field = (name: 'loss' | 'cosineToAudio' | 'cosineToText') => Object.fromEntries(TRANSFER_INPUTS.map((k) => [k, of((d) => d[name][k])]));
    return { pairs: perSeed[seeds[0]].pairs, variance: perSeed[seeds[0]].variance, loss: field('loss'), cosineToAudio: field('cosineToAudio'), cosineToText: field('cosineToText'), perSeed };
  };
  return { mats: summarise(byRun.mats), 'no-noise': summarise(byRun['no-noise']), audio: summarise(byRun.audio) };
}

type TransferSummary = ReturnType<typeof transferSummary>;

const TRANSFER_LABELS: Record<(typeof TRANSFER_INPUTS)[number], string> = {
  text: 'clean caption text',
  noisyText: 'caption text + training noise',
  audio: 'audio embedding (noise-only)',
  santa: 'audio after Santa',
};

function transferMarkdown(t: TransferSummary): string {
  const fmt = (x: Stat) => (x.std === null ? `${x.mean.toFixed(3)} (1 seed)` : `${x.mean.toFixed(3)} ± ${x.std.toFixed(3)}`);
  const runs: [TransferRun, string][] = [
    ['mats', 'MATS'],
    ['no-noise', 'w/o GN'],
    ['audio', 'MATS-Audio'],
  ];
  const lossRows: TableRow[] = TRANSFER_INPUTS.map((k) => [TRANSFER_LABELS[k], ...runs.map(([r]) => fmt(t[r].loss[k]))]);
  const cosRows: TableRow[] = TRANSFER_INPUTS.map((k) => [TRANSFER_LABELS[k], fmt(t.mats.cosineToAudio[k]), fmt(t.mats.cosineToText[k])]);
  return [
    '## Why: the caption loss by prefix input, and where the inputs sit',
    '',
    `Teacher-forced loss (nats per token, caption + eos) of the first reference caption of ${t.mats.pairs} captioning clips, with the prefix made from each input; noisy text at variance ${t.mats.variance}. Lower is better; the gap between the text rows and the audio rows is what the modality gap costs each training.`,
    '',
    markdownTable(['prefix input', ...runs.map(([, label]) => `${label} run`)], lossRows),
    '',
    'Mean cosine of each input to the clip\'s audio embedding and to its caption\'s text embedding (the inputs do not depend on the training, only Santa\'s memory does; shown for the MATS runs):',
    '',
    markdownTable(['input', 'cos to audio', 'cos to caption text'], cosRows),
    '',
  ].join('\n');
}

function studyMarkdown(
  s: {
    name: string;
    settings: { seeds: number[]; steps: number; variances: number[]; tasks: EvalTask[]; configuredVariance: number; evalLimit: number; preset: string };
    metrics: Record<string, string>;
    chance: Record<string, number>;
    table4: { label: string; run: string; method: string; tasks: Record<string, StudyCell> }[];
    variance: { variance: number; run: string; tasks: Record<string, StudyCell> }[];
    figure3: { file: string } | null;
    transfer: TransferSummary;
  },
  gap: string,
): string {
  const t = s.settings.tasks;
  const header = ['row', 'training', 'inference', ...t.map((task) => `${task}: ${s.metrics[task]}`)];
  const body: TableRow[] = s.table4.map((r) => [r.label, r.run, r.method, ...t.map((task) => fmtStat(r.tasks[task].stat, s.metrics[task]))]);
  body.push(['chance / baseline', '', '', ...t.map((task) => fmtValue(s.chance[task], s.metrics[task]))]);
  const vBody: TableRow[] = s.variance.map((v) => [String(v.variance), v.run, ...t.map((task) => fmtStat(v.tasks[task].stat, s.metrics[task]))]);
  vBody.push(['chance / baseline', '', ...t.map((task) => fmtValue(s.chance[task], s.metrics[task]))]);
  const perSeed: TableRow[] = s.table4.flatMap((r) => s.settings.seeds.map((seed): TableRow => [r.label, String(seed), ...t.map((task) => fmtValue(r.tasks[task].perSeed[seed], s.metrics[task]))]));
  return [
    `# Study ${s.name}: paper Table 4 and Figure 4 over ${s.settings.seeds.length} seed(s)`,
    '',
    `Preset ${s.settings.preset}; seeds ${s.settings.seeds.join(', ')}; ${s.settings.steps} training steps per run; configured noise variance ${s.settings.configuredVariance}; tasks ${t.join(', ')}${s.settings.evalLimit > 0 ? `; first ${s.settings.evalLimit} items of each set` : ''}. Cells: mean ± sample standard deviation (n - 1) over the seeds.`,
    '',
    '## Table 4 (ablation)',
    '',
    markdownTable(header, body),
    '',
    '![Table 4](table4.png)',
    '',
    '## Figure 4 (noise variance, MATS with Santa inference)',
    '',
    markdownTable(['variance', 'training', ...t.map((task) => `${task}: ${s.metrics[task]}`)], vBody),
    '',
    '![variance](variance.png)',
    '',
    gap,
    transferMarkdown(s.transfer),
    ...(s.figure3 ? ['## Figure 3 (first seed)', '', `![Figure 3](${s.figure3.file})`, ''] : []),
    '## Per seed (Table 4)',
    '',
    markdownTable(['row', 'seed', ...t], perSeed),
    '',
  ].join('\n');
}
