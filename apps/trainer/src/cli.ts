import { formatDuration } from '@mats/core';
import { ConfigError, type MatsConfig, type Override, parseArgs, parseShard, resolveConfig } from '@mats/app-shared';
import { type TrainOptions, train } from './train.js';

const USAGE = `MATS trainer

  npx nx run trainer:train [-- options]       (or: node apps/trainer/dist/main.js train [options])
  npx nx run trainer:help                     this text (through nx, options go after --: nx takes
                                              \`trainer:train --help\` for its own help)

With no options: the "world" preset (synthetic world, tiny CLAP and tiny GPT-2), run folder runs/world.

options:
  --preset NAME          world (default) or mats-gpt2 (paper section 4.1)
  --config FILE          a JSON or YAML config file (partial; merged over the preset)
  --name NAME            run name (folder runs/NAME)
  --steps N, --batch-size N, --lr X, --seed N, --backend auto|wasm|cpu|tensorflow|tensorflow-gpu
  --variant audio        MATS-Audio: train on CLAP audio embeddings of the clips (default run name <preset>-audio)
  --no-noise             train without Gaussian noise, for the "w/o GN" ablation row (default name <preset>-no-noise)
  --resume               continue the run from its latest checkpoint, exactly
  --overwrite            delete an existing run folder of the same name first
  --stage embed|merge    only fill the embedding cache (optionally one shard) or only merge it
  --shard i/n            with --stage embed: embed the i-th of n shards (0-based)
  --streaming            stream the records and the embedding cache (bounded memory; data.streaming, on in mats-gpt2)
  --skip-bad             with streaming: skip malformed JSONL lines, counted in summary.json (data.skipBad)
  --<field.path> VALUE   any config field, e.g. --train.noiseVariance 0.01 --mapper.layers 4
  --train.workers N      threads per step (data parallelism, wasm/cpu backend): the batch is split
                         over this thread and N-1 worker threads, gradients summed (default 1)
  --train.microBatch N   rows per forward/backward pass, gradients summed (default: the whole batch)
Writes runs/<name>/ (config.json, mapper.safetensors, adapter_config.json, adapter_model.safetensors,
santa.safetensors, metrics.jsonl, loss.png, figure3.png, checkpoints/) and points runs/latest at it.`;

export interface TrainerInvocation {
  config: MatsConfig;
  options: TrainOptions;
}

/** Parses the trainer's command line into a validated config and run options. */
export function trainerConfig(argv: string[]): TrainerInvocation | null {
  const args = parseArgs(argv, {
    booleans: ['help', 'resume', 'overwrite', 'no-noise', 'streaming', 'skip-bad'],
    values: ['stage', 'shard', 'variant'],
    shortcuts: { name: 'name', steps: 'train.steps', 'batch-size': 'train.batchSize', lr: 'train.lr', seed: 'seed', backend: 'backend' },
  });
  if (args.flags.has('help')) {
    process.stdout.write(`${USAGE}\n`);
    return null;
  }
  if (args.command !== undefined && args.command !== 'train') throw new ConfigError(`unknown command "${args.command}", expected "train"`);
  const overrides: Override[] = [...args.overrides];
  const variant = args.values.get('variant');
  if (variant !== undefined) overrides.push({ path: 'train.variant', raw: variant });
  if (args.flags.has('no-noise')) overrides.push({ path: 'train.noiseVariance', raw: '0' });
  if (args.flags.has('streaming')) overrides.push({ path: 'data.streaming', raw: 'true' });
  if (args.flags.has('skip-bad')) overrides.push({ path: 'data.skipBad', raw: 'true' });
  let config = resolveConfig({ preset: args.preset, configFile: args.configFile, overrides });
  // Variants get their own default run name, so the ablation finds them beside the main run.
  const named = overrides.some((o) => o.path === 'name');
  if (!named) {
    const suffix = config.train.variant === 'audio' ? '-audio' : args.flags.has('no-noise') ? '-no-noise' : '';
    if (suffix) config = resolveConfig({ preset: args.preset, configFile: args.configFile, overrides: [...overrides, { path: 'name', raw: `${config.name}${suffix}` }] });
  }
  const stage = args.values.get('stage') ?? 'all';
  if (!['all', 'embed', 'merge'].includes(stage)) throw new ConfigError(`--stage: expected embed or merge, got "${stage}"`);
  const shardText = args.values.get('shard');
  const shard = shardText !== undefined ? parseShard(shardText) : undefined;
  if (shard && stage !== 'embed') throw new ConfigError('--shard only applies with --stage embed (each shard embeds its part of the cache; the merge and the training run once)');
  return { config, options: { resume: args.flags.has('resume'), overwrite: args.flags.has('overwrite'), stage: stage as TrainOptions['stage'], shard } };
}

export async function runCli(argv: string[]): Promise<void> {
  const invocation = trainerConfig(argv);
  if (!invocation) return;
  const result = await train(invocation.config, invocation.options);
  if (invocation.options.stage !== 'all') {
    process.stdout.write(`embedding cache ${invocation.options.stage} done in ${formatDuration(result.seconds)}\n`);
    return;
  }
  process.stdout.write(
    `${JSON.stringify({ run: result.runDir, steps: result.step, finalLoss: result.finalLoss, validationLoss: result.validationLoss, seconds: Math.round(result.seconds) })}\n`,
  );
}
