/**
 * mats-clap: CLAP embeddings and zero-shot classification from the command line.
 *
 *   mats-clap embed-text  [model] --out FILE.safetensors (--text "..." ... | --texts-file FILE)
 *   mats-clap embed-audio [model] --out FILE.safetensors AUDIO...
 *   mats-clap zero-shot   [model] --labels "dog bark,siren,..." [--labels-file FILE] AUDIO...
 *
 * model: --tiny DIR (default: the committed tiny CLAP of the synthetic world) or
 *        --onnx-audio FILE --onnx-text FILE [--threads N] [--execution-provider cuda ...]
 * common: --batch-size N, --seed N, --backend auto|wasm|cpu|tensorflow|tensorflow-gpu (tiny CLAP only),
 *         --channel-mode flatten|mean (ONNX only)
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { selectBackend, parseBackendName, writeSafetensors, type Embeddings } from '@mats/core';
import { embedAudioFiles } from './audio-files.js';
import { loadClap, TINY_CLAP_WORLD_DIR, type ClapSpec } from './load.js';
import { zeroShotClassify, ZERO_SHOT_TEMPLATE } from './zero-shot.js';
import type { ChannelMode } from './audio-prep.js';

const USAGE = `usage:
  mats-clap embed-text  [model] --out FILE.safetensors (--text "..." ... | --texts-file FILE)
  mats-clap embed-audio [model] --out FILE.safetensors AUDIO...
  mats-clap zero-shot   [model] --labels "a,b,c" [--labels-file FILE] [--template "This is a sound of {label}."] AUDIO...
model: --tiny DIR (default ${TINY_CLAP_WORLD_DIR})
       or --onnx-audio FILE --onnx-text FILE [--threads N] [--execution-provider NAME ...] [--channel-mode flatten|mean]
common: --batch-size N  --seed N  --backend auto|wasm|cpu|tensorflow|tensorflow-gpu (tiny CLAP)`;

class UsageError extends Error {}

function int(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (!Number.isInteger(x) || x < 0) throw new UsageError(`--${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
  return x;
}

function lines(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`${path}: cannot read (${(err as Error).message})`);
  }
  return text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
}

export interface CliIo {
  log: (line: string) => void;
  error: (line: string) => void;
}

async function main(argv: string[], io: CliIo): Promise<void> {
  const writeEmbeddings = (path: string, e: Embeddings, metadata: Record<string, string>): void => {
    writeSafetensors(path, { embeddings: { data: e.data, shape: [e.rows, e.dim] } }, metadata);
    io.error(`wrote ${e.rows} x ${e.dim} embeddings to ${path}`);
  };
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h') {
    io.log(USAGE);
    return;
  }
  if (!['embed-text', 'embed-audio', 'zero-shot'].includes(command)) throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      tiny: { type: 'string' },
      'onnx-audio': { type: 'string' },
      'onnx-text': { type: 'string' },
      threads: { type: 'string' },
      'execution-provider': { type: 'string', multiple: true },
      'channel-mode': { type: 'string' },
      'batch-size': { type: 'string' },
      seed: { type: 'string' },
      backend: { type: 'string', default: 'auto' },
      out: { type: 'string' },
      text: { type: 'string', multiple: true },
      'texts-file': { type: 'string' },
      labels: { type: 'string', multiple: true },
      'labels-file': { type: 'string' },
      template: { type: 'string', default: ZERO_SHOT_TEMPLATE },
    },
  });
  const onnx = values['onnx-audio'] !== undefined || values['onnx-text'] !== undefined;
  if (onnx && values.tiny) throw new UsageError('give either --tiny or --onnx-audio/--onnx-text, not both');
  let spec: ClapSpec;
  const batchSize = int('batch-size', values['batch-size']);
  const seed = int('seed', values.seed);
  if (onnx) {
    if (!values['onnx-audio'] || !values['onnx-text']) throw new UsageError('--onnx-audio and --onnx-text are both required for an ONNX model');
    const mode = values['channel-mode'];
    if (mode !== undefined && mode !== 'flatten' && mode !== 'mean') throw new UsageError(`--channel-mode must be flatten or mean, got ${JSON.stringify(mode)}`);
    spec = {
      type: 'onnx',
      audioModel: values['onnx-audio'],
      textModel: values['onnx-text'],
      threads: int('threads', values.threads),
      executionProviders: values['execution-provider'],
      channelMode: mode as ChannelMode | undefined,
      batchSize,
      seed,
    };
  } else {
    await selectBackend(parseBackendName(values.backend!, '--backend'));
    spec = { type: 'tiny', dir: values.tiny ?? TINY_CLAP_WORLD_DIR, batchSize, seed };
  }
  const modelName = spec.type === 'tiny' ? spec.dir : `${spec.audioModel} + ${spec.textModel}`;

  if (command === 'embed-text') {
    const texts = [...(values.text ?? []), ...(values['texts-file'] ? lines(values['texts-file']) : [])];
    if (texts.length === 0) throw new UsageError('embed-text needs --text "..." (repeatable) or --texts-file FILE');
    if (!values.out) throw new UsageError('embed-text needs --out FILE.safetensors');
    const clap = await loadClap(spec);
    try {
      writeEmbeddings(values.out, await clap.embedText(texts), { kind: 'text', model: modelName, texts: JSON.stringify(texts) });
    } finally {
      await clap.dispose();
    }
    return;
  }
  if (positionals.length === 0) throw new UsageError(`${command} needs one or more audio files`);
  if (command === 'embed-audio') {
    if (!values.out) throw new UsageError('embed-audio needs --out FILE.safetensors');
    const clap = await loadClap(spec);
    try {
      writeEmbeddings(values.out, await embedAudioFiles(clap, positionals), { kind: 'audio', model: modelName, files: JSON.stringify(positionals) });
    } finally {
      await clap.dispose();
    }
    return;
  }
  const labels = [...(values.labels ?? []).flatMap((l) => l.split(',')), ...(values['labels-file'] ? lines(values['labels-file']) : [])]
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  if (labels.length === 0) throw new UsageError('zero-shot needs --labels "a,b,c" or --labels-file FILE');
  const clap = await loadClap(spec);
  try {
    const result = await zeroShotClassify(clap, positionals, labels, values.template);
    positionals.forEach((file, i) => {
      const scores = Object.fromEntries(labels.map((l, j) => [l, Number(result.scores[i * labels.length + j].toFixed(4))]));
      io.log(JSON.stringify({ file, label: labels[result.predictions[i]], scores }));
    });
  } finally {
    await clap.dispose();
  }
}

/** Runs the CLI; returns the exit code (0 ok, 1 failure, 2 usage). */
export async function runCli(argv: string[], io: CliIo = { log: (l) => console.log(l), error: (l) => console.error(l) }): Promise<number> {
  try {
    await main(argv, io);
    return 0;
  } catch (err) {
    io.error(`mats-clap: ${(err as Error).message}`);
    if (err instanceof UsageError) io.error(USAGE);
    return err instanceof UsageError ? 2 : 1;
  }
}
