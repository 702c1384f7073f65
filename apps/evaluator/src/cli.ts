import { formatDuration, selectBackend } from '@mats/core';
import { ConfigError, EVAL_TASKS, type EvalTask, type MatsConfig, type Override, parseArgs, resolveConfig } from '@mats/app-shared';
import { evaluateAblation, evaluateTarget } from './evaluate.js';
import { readRunConfig } from './model.js';

const TARGETS = [...EVAL_TASKS, 'ablation'] as const;

const USAGE = `MATS evaluator

  npx nx run evaluator:<target> [-- options]   (or: node apps/evaluator/dist/main.js <target> [options])
  npx nx run evaluator:help                    this text (through nx, options go after --, and a
                                               target nx does not list gives "Cannot find configuration")

targets: mmau (default), classify, caption, aqa, ablation

options:
  --run DIR              the run to evaluate (default runs/latest, the last training run)
  --data FILE            evaluation data of the target (e.g. --data mmau-test-mini.json)
  --audio-dir DIR        folder the data's audio paths are relative to
  --method M             santa (default), noise-only, memory-only, no-kmeans, no-audio
  --limit N              only the first N items
  --config FILE          a JSON or YAML config file (partial; merged over the run's own config)
  --preset NAME          start from a preset instead of the run's config (world, mats-gpt2)
  --<field.path> VALUE   any config field, e.g. --eval.generation.strategy beam --santa.lambda 0.5
Outputs go to runs/<name>/eval/<target>/ (predictions.json, report.json, report.md).`;

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
  if (!TARGETS.includes(target)) throw new ConfigError(`unknown target "${target}", expected one of ${TARGETS.join(', ')}`);
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
  const resolved = evaluatorConfig(argv);
  if (!resolved) return;
  const { target, config } = resolved;
  const started = Date.now();
  const backend = await selectBackend(config.backend);
  process.stderr.write(`backend: ${backend.selected}\n`);
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
