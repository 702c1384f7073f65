import { describeBackend, formatDuration, selectBackend } from '@mats/core';
import { ConfigError, EVAL_TASKS, type EvalTask, type MatsConfig, type Override, parseArgs, resolveConfig } from '@mats/app-shared';
import { evaluateAblation, evaluateTarget } from './evaluate.js';
import { readRunConfig } from './model.js';
import { runGapOnly, runStudy } from './study.js';

const TARGETS = [...EVAL_TASKS, 'ablation'] as const;

const USAGE = `MATS evaluator

  npx nx run evaluator:<target> [-- options]   (or: node apps/evaluator/dist/main.js <target> [options])
  npx nx run evaluator:help                    this text (through nx, options go after --, and a
                                               target nx does not list gives "Cannot find configuration")

targets: mmau (default), classify, caption, aqa, ablation, study (see below)

options:
  --run DIR              the run to evaluate (default runs/latest, the last training run); an export
                         folder (npx mats export RUN --out DIR) is answered on onnxruntime-node
  --data FILE            evaluation data of the target (e.g. --data mmau-test-mini.json)
  --audio-dir DIR        folder the data's audio paths are relative to
  --method M             santa (default), noise-only, memory-only, no-kmeans, no-audio
  --limit N              only the first N items
  --config FILE          a JSON or YAML config file (partial; merged over the run's own config)
  --preset NAME          start from a preset instead of the run's config (world, mats-gpt2)
  --<field.path> VALUE   any config field, e.g. --eval.generation.strategy beam --santa.lambda 0.5
Outputs go to runs/<name>/eval/<target>/ (predictions.json, report.json, report.md).

study (paper Table 4 + Figure 4 over seeds; trains its own runs, starting from a preset, world by default):
  --seeds 0,1,2          seeds (default 0,1,2)
  --steps N              training steps of every run (default the preset's train.steps)
  --variances 0,0.002,0.004,0.015   the noise-variance sweep (0 = the w/o GN run)
  --tasks mmau,classify,caption,aqa
  --name NAME            study folder runs/NAME (default study)
  --gap-only             only the CLAP gap statistics (runs/NAME/gap.json, gap.md)
  --preset, --config, --<field.path> as above (e.g. --eval.limit 100)
Writes runs/NAME/study.json, study.md, table4.png, variance.png, figure3-seed<first>.png; the trainings
live in runs/NAME/runs/<mats|no-noise|audio|var-V>-s<seed>/. Finished trainings and evaluations are reused.`;

/** Builds the study's config: a preset (world by default), then a file, then flags; the study options go to the `study` group. */
export function studyConfig(argv: string[]): { config: MatsConfig; gapOnly: boolean } | null {
  const args = parseArgs(argv, {
    booleans: ['help', 'gap-only'],
    values: ['seeds', 'steps', 'variances', 'tasks', 'name'],
    shortcuts: { seed: 'seed', backend: 'backend' },
  });
  if (args.flags.has('help')) {
    process.stdout.write(`${USAGE}\n`);
    return null;
  }
  const overrides: Override[] = [...args.overrides];
  const lists: Record<string, string> = { seeds: 'study.seeds', variances: 'study.variances', tasks: 'study.tasks' };
  for (const [flag, path] of Object.entries(lists)) {
    const raw = args.values.get(flag);
    if (raw !== undefined) overrides.push({ path, raw: `[${raw}]` });
  }
  if (args.values.has('steps')) overrides.push({ path: 'study.steps', raw: args.values.get('steps')! });
  if (args.values.has('name')) overrides.push({ path: 'study.name', raw: args.values.get('name')! });
  return { config: resolveConfig({ preset: args.preset, configFile: args.configFile, overrides }), gapOnly: args.flags.has('gap-only') };
}

/** Builds the evaluator's config: the run's own config (or a preset), then a file, then flags. */
export function evaluatorConfig(argv: string[]): { target: (typeof TARGETS)[number]; config: MatsConfig } | null {
  const args = parseArgs(argv, {
    booleans: ['help'],
    values: ['run', 'data', 'audio-dir', 'method', 'limit'],
    shortcuts: { seed: 'seed', backend: 'backend' },
  });
  if (args.flags.has('help')) {
    process.stdout.write(`${USAGE}\n`);
    return null;
  }
  const target = (args.command ?? 'mmau') as (typeof TARGETS)[number];
  if (!TARGETS.includes(target)) throw new ConfigError(`unknown target "${target}", expected one of ${[...TARGETS, 'study'].join(', ')}`);
  const overrides: Override[] = [...args.overrides];
  const value = (k: string) => args.values.get(k);
  if (value('run')) overrides.push({ path: 'eval.run', raw: value('run')! });
  if (value('method')) overrides.push({ path: 'eval.method', raw: value('method')! });
  if (value('limit')) overrides.push({ path: 'eval.limit', raw: value('limit')! });
  const dataTask: EvalTask | null = target === 'ablation' ? null : target;
  for (const [flag, field] of [['data', 'data'], ['audio-dir', 'audioDir']] as const) {
    if (!value(flag)) continue;
    if (!dataTask) throw new ConfigError(`--${flag} applies to one task; for the ablation set --eval.<task>.${field} instead`);
    overrides.push({ path: `eval.${dataTask}.${field}`, raw: value(flag)! });
  }
  // First pass to learn which run is evaluated; the run's own config is then the base.
  const first = resolveConfig({ preset: args.preset, configFile: args.configFile, overrides });
  let base: Record<string, unknown> | undefined;
  if (!args.preset) base = readRunConfig(first.eval.run).config as unknown as Record<string, unknown>;
  const config = resolveConfig({ preset: args.preset, base, configFile: args.configFile, overrides });
  return { target, config };
}

/** Runs one evaluator command (target and options as on the command line). */
export async function runCli(argv: string[]): Promise<void> {
  if (argv[0] === 'study') {
    const study = studyConfig(argv);
    if (!study) return;
    const started = Date.now();
    const backend = await selectBackend(study.config.backend, { wasmThreads: study.config.wasmThreads });
    process.stderr.write(`backend: ${describeBackend(backend)}\n`);
    const { outDir, markdown } = study.gapOnly ? await runGapOnly(study.config) : await runStudy(study.config);
    process.stdout.write(`${markdown}\n`);
    process.stdout.write(`written to ${outDir} in ${formatDuration((Date.now() - started) / 1000)}\n`);
    return;
  }
  const resolved = evaluatorConfig(argv);
  if (!resolved) return;
  const { target, config } = resolved;
  const started = Date.now();
  const backend = await selectBackend(config.backend, { wasmThreads: config.wasmThreads });
  process.stderr.write(`backend: ${describeBackend(backend)}\n`);
  if (target === 'ablation') {
    const { outDir, markdown } = await evaluateAblation(config);
    process.stdout.write(`${markdown}\n`);
    process.stdout.write(`written to ${outDir} in ${formatDuration((Date.now() - started) / 1000)}\n`);
    return;
  }
  const { outDir, markdown } = await evaluateTarget(target, config);
  process.stdout.write(`${markdown}\n`);
  process.stdout.write(`written to ${outDir} in ${formatDuration((Date.now() - started) / 1000)}\n`);
}
