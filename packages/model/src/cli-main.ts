/**
 * mats: ask a trained MATS run about audio files.
 *
 *   mats ask      RUN CLIP "question"      one answer
 *   mats caption  RUN CLIP...              a caption per clip (Table S8: "Generate audio caption.")
 *   mats classify RUN CLIP... [--labels labels.json]   the generated labels; with a label list, the
 *                                          best-matching label by CLAP text similarity
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { type BackendName, parseBackendName } from '@mats/core';
import { TRANSFER_METHODS, type TransferMethod } from '@mats/santa';
import { matchPredictionsToLabels } from '@mats/bench';
import { captionInstruction, classificationInstruction } from '@mats/datasets';
import { type AnswerOptions, type AskItem, type LoadedMatsModel, MatsModel } from './model.js';
import { exportCommand } from './onnx/export-cli.js';

export const USAGE = `usage:
  mats ask      RUN CLIP "question"               answer a question about a clip
  mats caption  RUN CLIP... [--music]             caption clips (Generate audio|music caption.)
  mats classify RUN CLIP... [--labels FILE.json]  classify clips (Classify events in the audio clip.);
                                                  with --labels (a JSON list of label strings) the best
                                                  label by CLAP text matching is printed too
  mats export   RUN --out DIR [--overwrite]       ONNX export for onnxruntime (mats export --help)
RUN is a run folder written by the trainer (e.g. runs/world, runs/latest), or an export folder
(mats export), which answers on onnxruntime-node.
options:
  --method santa|noise-only|memory-only|no-kmeans|no-audio   modal transfer (default: the run's)
  --strategy greedy|beam  --beams N  --max-new-tokens N      decoding (default: the run's)
  --batch-size N          items per batch
  --backend auto|wasm|cpu|tensorflow|tensorflow-gpu
  --wasm-threads N        tfjs-wasm's matrix products on N threads (1-8; same answers)
  --json                  one JSON array of { audio, instruction, answer, error[, label] }
  -h, --help`;

class UsageError extends Error {}

function positiveInt(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (!Number.isInteger(x) || x < 1) throw new UsageError(`--${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return x;
}

function readLabels(path: string): string[] {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8').replace(/^\uFEFF/, ''));
  } catch (err) {
    throw new Error(`--labels ${path}: cannot read a JSON list (${(err as Error).message.split('\n')[0]})`);
  }
  if (!Array.isArray(value) || value.length === 0 || value.some((l) => typeof l !== 'string' || l === '')) throw new Error(`--labels ${path}: expected a JSON list of non-empty label strings`);
  return value as string[];
}

/** Runs the CLI; returns the exit code (0 ok, 1 some item failed or an error, 2 usage). */
export async function runCli(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s), err: (s: string) => void = (s) => process.stderr.write(s)): Promise<number> {
  if (argv[0] === 'export') {
    try {
      await exportCommand(argv.slice(1), (line) => out(`${line}\n`));
      return 0;
    } catch (e) {
      err(`${(e as Error).message}\n`);
      return /unknown option|unexpected argument|missing|needs a folder/.test((e as Error).message) ? 2 : 1;
    }
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        json: { type: 'boolean' },
        music: { type: 'boolean' },
        labels: { type: 'string' },
        method: { type: 'string' },
        strategy: { type: 'string' },
        beams: { type: 'string' },
        'max-new-tokens': { type: 'string' },
        'batch-size': { type: 'string' },
        backend: { type: 'string' },
        'wasm-threads': { type: 'string' },
      },
    });
  } catch (e) {
    err(`mats: ${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { values: v, positionals } = parsed;
  const [command, run, ...rest] = positionals;
  if (v.help || command === 'help' || command === undefined) {
    (command === undefined && !v.help ? err : out)(`${USAGE}\n`);
    return command === undefined && !v.help ? 2 : 0;
  }
  let model: LoadedMatsModel | null = null;
  try {
    if (!['ask', 'caption', 'classify'].includes(command)) throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    if (!run) throw new UsageError(`${command}: the run folder is missing`);
    let items: AskItem[];
    if (command === 'ask') {
      if (rest.length !== 2) throw new UsageError(`ask: expected RUN CLIP "question", got ${rest.length} argument(s) after the run`);
      if (rest[1].trim() === '') throw new UsageError('ask: the question is empty');
      items = [{ audio: rest[0], instruction: rest[1] }];
    } else {
      if (rest.length === 0) throw new UsageError(`${command}: no clips given`);
      const instruction = command === 'caption' ? captionInstruction(v.music ? 'music' : 'sound') : classificationInstruction();
      items = rest.map((audio) => ({ audio, instruction }));
    }
    if (v.labels && command !== 'classify') throw new UsageError('--labels is for classify');
    const labels = v.labels ? readLabels(v.labels) : null;
    if (v.method !== undefined && !TRANSFER_METHODS.includes(v.method as TransferMethod)) throw new UsageError(`--method must be one of ${TRANSFER_METHODS.join(', ')}, got ${JSON.stringify(v.method)}`);
    if (v.strategy !== undefined && v.strategy !== 'greedy' && v.strategy !== 'beam') throw new UsageError(`--strategy must be greedy or beam, got ${JSON.stringify(v.strategy)}`);
    const generation: AnswerOptions['generation'] = {};
    if (v.strategy) generation.strategy = v.strategy as 'greedy' | 'beam';
    const beams = positiveInt('beams', v.beams);
    if (beams !== undefined) generation.beams = beams;
    const maxNew = positiveInt('max-new-tokens', v['max-new-tokens']);
    if (maxNew !== undefined) generation.maxNewTokens = maxNew;
    let backend: BackendName | undefined;
    if (v.backend !== undefined) {
      try {
        backend = parseBackendName(v.backend);
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
    }
    const wasmThreads = positiveInt('wasm-threads', v['wasm-threads']);
    if (wasmThreads !== undefined && wasmThreads > 8) throw new UsageError(`--wasm-threads must be from 1 to 8, got ${wasmThreads}`);
    model = await MatsModel.load(run, { backend, wasmThreads, method: v.method as TransferMethod | undefined, generation, batchSize: positiveInt('batch-size', v['batch-size']) });
    const answers = await model.ask(items);
    let best: (string | null)[] = answers.map(() => null);
    if (labels) {
      const ok = answers.flatMap((a, i) => (a.error === null ? [i] : []));
      if (ok.length > 0) {
        const match = await matchPredictionsToLabels(ok.map((i) => answers[i].answer), labels, model.clap, { multiLabelSeparator: ',' });
        best = answers.map(() => null);
        ok.forEach((i, r) => (best[i] = match.predictedLabel[r]));
      }
    }
    const rows = items.map((item, i) => ({ audio: item.audio as string, instruction: item.instruction, answer: answers[i].answer, error: answers[i].error, ...(labels ? { label: best[i] } : {}) }));
    if (v.json) out(`${JSON.stringify(rows, null, 2)}\n`);
    else
      for (const r of rows) {
        const text = r.error !== null ? `error: ${r.error}` : labels ? `${r.label}\t${r.answer}` : r.answer;
        out(command === 'ask' ? `${text}\n` : `${r.audio}\t${text}\n`);
      }
    for (const r of rows) if (r.error !== null && !v.json) err(`mats: ${r.audio}: ${r.error}\n`);
    return rows.some((r) => r.error !== null) ? 1 : 0;
  } catch (e) {
    if (e instanceof UsageError) {
      err(`mats: ${e.message}\n${USAGE}\n`);
      return 2;
    }
    err(`mats: ${(e as Error).message}\n`);
    return 1;
  } finally {
    await model?.dispose();
  }
}
