import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { createProgress, writeFileAtomic } from '@mats/core';
import type { ClapEncoder } from '@mats/clap';
import { type EvalTask, type MatsConfig, type SantaMethod, resolvePath, writeJson } from '@mats/app-shared';
import { type ItemEmbeddings, type OpenRun, answerItems, closeRun, embedItems, engineName, findRun, openRun } from './model.js';
import { markdownTable, writeTaskReport } from './report.js';
import { type PreparedTask, type TableRow, type TaskOutcome, prepareTask } from './tasks.js';

export interface EvaluateOptions {
  progress?: 'bar' | 'log' | 'silent';
  log?: (line: string) => void;
  /** A CLAP encoder supplied by the caller (tests). */
  clap?: ClapEncoder;
}

async function embedTask(run: OpenRun, task: PreparedTask, config: MatsConfig, options: EvaluateOptions): Promise<ItemEmbeddings> {
  const progress = createProgress({ label: `${task.task}: embed audio`, total: task.items.length, unit: 'clips', mode: options.progress });
  const emb = await embedItems(run, task.items, config.clap.batchSize, (done) => progress.update(done));
  progress.stop();
  return emb;
}

async function answerTask(run: OpenRun, task: PreparedTask, emb: ItemEmbeddings, method: SantaMethod, config: MatsConfig, options: EvaluateOptions, label: string): Promise<TaskOutcome> {
  const progress = createProgress({ label: `${label}: generate`, total: task.items.length, unit: 'items', mode: options.progress });
  const answers = await answerItems(run, task.items, emb, method, (done) => progress.update(done));
  progress.stop();
  return task.score(answers, run);
}

/** Evaluates the run of `config.eval.run` on one task; writes runs/<name>/eval/<target>[-<method>]/. */
export async function evaluateTarget(target: EvalTask, config: MatsConfig, options: EvaluateOptions = {}): Promise<{ outDir: string; outcome: TaskOutcome; markdown: string }> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const started = Date.now();
  const { dir } = findRun(config.eval.run);
  const task = prepareTask(target, config);
  const run = await openRun(dir, config, options.clap);
  const engine = engineName(run, config);
  log(`${target}: ${task.items.length} items from ${task.data}; run ${dir} on ${engine}; method ${config.eval.method}`);
  try {
    const emb = await embedTask(run, task, config, options);
    if (emb.failures.size > 0) log(`${target}: ${emb.failures.size} item(s) could not be read; they are counted as wrong (see failures.json)`);
    const outcome = await answerTask(run, task, emb, config.eval.method, config, options, target);
    const method = config.eval.method;
    const outDir = join(dir, 'eval', method === 'santa' ? target : `${target}-${method}`);
    const markdown = writeTaskReport(outDir, outcome, { target, runDir: dir, runName: basename(dir), engine, method, data: task.data, seconds: (Date.now() - started) / 1000 });
    return { outDir, outcome, markdown };
  } finally {
    await closeRun(run);
  }
}

const ROW_NAMES: Record<SantaMethod, string> = {
  santa: 'MATS (noise + Santa)',
  'noise-only': 'noise-only (w/o MB)',
  'memory-only': 'memory-only (DRCap-style)',
  'no-kmeans': 'Santa w/o K-means',
  'no-audio': 'Santa w/o AE (lambda = 1)',
};

interface AblationRow {
  row: string;
  run: string;
  method: SantaMethod;
  headlines: Partial<Record<EvalTask, TaskOutcome['headline'] & { failed: number }>>;
}

/**
 * Paper Table 4 on our data: the main run under every modal-transfer method, plus the run trained
 * without noise ("w/o GN", with Santa) and MATS-Audio (trained on audio embeddings, no transfer)
 * when those runs exist. Writes runs/<name>/eval/ablation/.
 */
export async function evaluateAblation(config: MatsConfig, options: EvaluateOptions = {}): Promise<{ outDir: string; rows: AblationRow[]; markdown: string }> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const started = Date.now();
  const { dir } = findRun(config.eval.run);
  const outDir = join(dir, 'eval', 'ablation');
  const tasks = config.eval.ablation.tasks.map((t) => prepareTask(t, config));
  const rows: AblationRow[] = [];
  const plan: { row: string; runPath: string; methods: SantaMethod[] }[] = [{ row: '', runPath: dir, methods: config.eval.ablation.methods }];
  const extra: [string, string, SantaMethod][] = [
    ['w/o GN (trained without noise, Santa)', config.eval.ablation.noNoiseRun, 'santa'],
    ['MATS-Audio (trained on audio, no transfer)', config.eval.ablation.audioRun, 'noise-only'],
  ];
  const missing: string[] = [];
  for (const [row, path, method] of extra) {
    if (existsSync(resolvePath(path))) plan.push({ row, runPath: findRun(path).dir, methods: [method] });
    else missing.push(`${row}: ${resolvePath(path)} not found`);
  }
  for (const step of plan) {
    const run = await openRun(step.runPath, config, options.clap);
    try {
      const embs = new Map<EvalTask, ItemEmbeddings>();
      for (const task of tasks) embs.set(task.task, await embedTask(run, task, config, options));
      for (const method of step.methods) {
        const row: AblationRow = { row: step.row || ROW_NAMES[method], run: basename(step.runPath), method, headlines: {} };
        for (const task of tasks) {
          const outcome = await answerTask(run, task, embs.get(task.task)!, method, config, options, `${row.row} / ${task.task}`);
          row.headlines[task.task] = { ...outcome.headline, failed: outcome.failures.length };
          writeJson(join(outDir, 'rows', `${row.run}-${method}`, `${task.task}-predictions.json`), outcome.predictions);
          log(`ablation: ${row.row} [${row.run}, ${method}] ${task.task}: ${outcome.headline.metric} ${outcome.headline.value.toFixed(3)}`);
        }
        rows.push(row);
      }
    } finally {
      await closeRun(run);
    }
  }
  const taskNames = tasks.map((t) => t.task);
  const first = rows[0];
  const header = ['row', 'run', 'inference', ...taskNames.map((t) => first.headlines[t]!.metric)];
  const body: TableRow[] = rows.map((r) => [r.row, r.run, r.method, ...taskNames.map((t) => fmt(r.headlines[t]!.value, r.headlines[t]!.metric))]);
  body.push(['chance / baseline', '', '', ...taskNames.map((t) => fmt(first.headlines[t]!.chance, first.headlines[t]!.metric))]);
  const markdown = [
    `# Ablation (paper Table 4) - run ${basename(dir)}`,
    '',
    `Tasks: ${taskNames.join(', ')}; ${tasks.map((t) => `${t.task} ${t.items.length} items`).join(', ')}.`,
    '',
    markdownTable(header, body),
    '',
    ...(missing.length ? ['Rows not evaluated (train them with the trainer first):', '', ...missing.map((m) => `- ${m}`), ''] : []),
  ].join('\n');
  writeJson(join(outDir, 'report.json'), { run: dir, tasks: taskNames, rows, missing, seconds: Math.round((Date.now() - started) / 100) / 10, createdAt: new Date().toISOString() });
  writeFileAtomic(join(outDir, 'report.md'), markdown);
  return { outDir, rows, markdown };
}

function fmt(v: number, metric: string): string {
  return metric.includes('%') ? v.toFixed(2) : v.toFixed(4);
}
