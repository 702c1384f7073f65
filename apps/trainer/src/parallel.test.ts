import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createEmbeddings, readSafetensors, selectBackend } from '@mats/core';
import { buildWordLevelTokenizer, saveCausalLM } from '@mats/llm-lora';
import { MatsModel } from '@mats/model';
import { buildMemory } from '@mats/santa';
import { type MatsConfig, loadLlm, modelSpec, readMetrics } from '@mats/app-shared';
import { train } from './train.js';
import { GradientWorkers, shareDropoutRng, shareRows, workerBackend } from './parallel.js';
import { makeData, quiet, standInClap, standInLlm, tinyConfig } from '../test/fixtures.js';

let dir: string;

/** The tiny run of fixtures.ts on a saved stand-in LLM (workers load llm.dir): batch 8, 5 steps. */
function config(name: string, train: Partial<MatsConfig['train']>, dropout = 0): MatsConfig {
  const c = tinyConfig(dir, name, 5);
  return { ...c, llm: { dir: join(dir, 'llm') }, lora: { ...c.lora, dropout }, train: { ...c.train, batchSize: 8, checkpointEvery: 0, ...train } };
}

function tensors(file: string): Map<string, number[]> {
  const st = readSafetensors(file);
  return new Map([...st.tensors.entries()].map(([k, t]) => [k, Array.from(t.data as Float32Array)]));
}

const WEIGHTS = ['mapper.safetensors', 'adapter_model.safetensors'];
const losses = (runDir: string) => readMetrics(runDir).filter((m) => m.loss !== undefined).map((m) => m.loss as number);

function maxDifference(runA: string, runB: string): number {
  let max = 0;
  for (const file of WEIGHTS) {
    const a = tensors(join(runA, file));
    const b = tensors(join(runB, file));
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    for (const [name, values] of a) values.forEach((v, i) => (max = Math.max(max, Math.abs(v - b.get(name)![i]))));
  }
  return max;
}

function expectSameWeights(runA: string, runB: string): void {
  for (const file of WEIGHTS) {
    const a = tensors(join(runA, file));
    const b = tensors(join(runB, file));
    for (const [name, values] of a) expect(b.get(name), `${file}: ${name}`).toEqual(values);
  }
}

beforeAll(async () => {
  await selectBackend('wasm');
  dir = mkdtempSync(join(tmpdir(), 'mats-workers-'));
  const texts = makeData(dir);
  await saveCausalLM(standInLlm(texts), join(dir, 'llm'), buildWordLevelTokenizer(texts));
});

describe('shares and dropout streams', () => {
  it('cuts a batch into contiguous shares of as equal sizes as possible', () => {
    expect(shareRows(8, 2)).toEqual([[0, 1, 2, 3], [4, 5, 6, 7]]);
    expect(shareRows(5, 3)).toEqual([[0, 1], [2, 3], [4]]);
    expect(() => shareRows(2, 3)).toThrow(/train\.workers: 3 shares of a batch of 2 rows/);
  });

  it('workers run the main thread\'s backend: wasm or cpu; webgpu and tensorflow are refused', () => {
    expect(workerBackend(2, 'wasm')).toBe('wasm');
    expect(workerBackend(2, 'cpu')).toBe('cpu');
    expect(() => workerBackend(2, 'webgpu')).toThrow(/train\.workers: 2 is not supported on the webgpu backend/);
    expect(() => workerBackend(3, 'tensorflow')).toThrow(/train\.workers: 3 needs the wasm or cpu backend .* the backend is tensorflow/);
  });

  it('derives one stream per (seed, step, share)', () => {
    const draw = (seed: number, step: number, share: number) => shareDropoutRng(seed, step, share).uniform();
    expect(draw(0, 4, 1)).toBe(draw(0, 4, 1));
    expect(new Set([draw(0, 4, 1), draw(0, 4, 0), draw(0, 5, 1), draw(1, 4, 1)]).size).toBe(4);
  });
});

describe('train.workers', () => {
  it('workers 2 (dropout 0, noise on) gives the single-thread run with micro-batches of 4: parameters within 1e-5, same losses', async () => {
    const single = await train(config('single', { microBatch: 4 }), { ...quiet, components: { clap: standInClap() } });
    const lines: string[] = [];
    const parallel = await train(config('parallel', { workers: 2 }), { ...quiet, log: (l) => lines.push(l), components: { clap: standInClap() } });
    expect(parallel.step).toBe(5);
    expect(lines).toContain('train.workers: each step\'s batch of 8 is computed by 2 threads (this one and 1 worker thread(s))');
    expect(maxDifference(single.runDir, parallel.runDir)).toBeLessThan(1e-5);
    // Each worker's heap is reported beside this thread's (each holds its own LLM replica).
    const summary = JSON.parse(readFileSync(join(parallel.runDir, 'train-summary.json'), 'utf8'));
    expect(summary.workerPeakHeapMiB).toHaveLength(1);
    expect(summary.workerPeakHeapMiB[0]).toBeGreaterThan(0);
    expect(lines.join('\n')).toMatch(new RegExp(`peak wasm heap ${summary.peakHeapMiB} MiB \\(worker threads: ${summary.workerPeakHeapMiB[0]} MiB\\)`));
    const a = losses(single.runDir);
    const b = losses(parallel.runDir);
    expect(b.length).toBe(5);
    a.forEach((l, i) => expect(b[i]).toBeCloseTo(l, 5));
    // The weights moved (not two untouched initialisations), and the noise was on.
    const whole = await train(config('whole', { microBatch: 4, noiseVariance: 0 }), { ...quiet, components: { clap: standInClap() } });
    expect(maxDifference(single.runDir, whole.runDir)).toBeGreaterThan(1e-4);
  });

  it('workers 2 with LoRA dropout 0.1 is reproducible, and a run stopped at step 3 and resumed ends with the same parameters', async () => {
    const first = await train(config('drop-a', { workers: 2 }, 0.1), { ...quiet, components: { clap: standInClap() } });
    const second = await train(config('drop-b', { workers: 2 }, 0.1), { ...quiet, components: { clap: standInClap() } });
    expectSameWeights(first.runDir, second.runDir);
    expect(losses(second.runDir)).toEqual(losses(first.runDir));
    // Dropout was drawn: the run differs from one without it, and from the single-thread run's
    // stream (one stream for the whole batch, not one per share).
    const noDropout = await train(config('drop-0', { workers: 2 }, 0), { ...quiet, components: { clap: standInClap() } });
    expect(maxDifference(first.runDir, noDropout.runDir)).toBeGreaterThan(1e-5);
    const oneThread = await train(config('drop-1', { microBatch: 4 }, 0.1), { ...quiet, components: { clap: standInClap() } });
    expect(maxDifference(first.runDir, oneThread.runDir)).toBeGreaterThan(1e-5);

    const stopped = await train(config('drop-split', { workers: 2, checkpointEvery: 1 }, 0.1), { ...quiet, stopAfterStep: 3, components: { clap: standInClap() } });
    expect(stopped).toMatchObject({ step: 3, stopped: true });
    const resumed = await train(config('drop-split', { workers: 2, checkpointEvery: 1 }, 0.1), { ...quiet, resume: true, components: { clap: standInClap() } });
    expect(resumed).toMatchObject({ step: 5, stopped: false });
    expectSameWeights(first.runDir, resumed.runDir);
    expect(losses(resumed.runDir)).toEqual(losses(first.runDir));
    // Another worker count is another run: resuming with it is refused.
    await expect(train(config('drop-split', { workers: 1, checkpointEvery: 1 }, 0.1), { ...quiet, resume: true, components: { clap: standInClap() } })).rejects.toThrow(/different train\.workers/);
  });

  it('a worker that cannot build its replica fails the start, naming the worker and the cause; a failing step names the worker and the step', async () => {
    const bad = config('bad', { workers: 2 });
    await expect(GradientWorkers.start({ ...bad, llm: { dir: join(dir, 'no-such-llm') } }, { clapDim: 16, sizes: [] })).rejects.toThrow(
      /train\.workers: worker 1 failed while building its replica: llm\.dir: .*no-such-llm does not exist/,
    );
    // Sizes that are not the replica's (another model on the main thread).
    await expect(GradientWorkers.start(bad, { clapDim: 16, sizes: [1, 2] })).rejects.toThrow(/worker 1 failed while building its replica: its replica's trainable tensors have \[/);

    // A good pool (the main thread's model for the sizes and values); a step whose rows do not match
    // its examples fails inside the worker.
    const texts = makeData(dir);
    const clap = standInClap();
    const model = MatsModel.create(modelSpec(bad), { clap, llm: loadLlm(bad), memory: buildMemory(await clap.embedText(texts.slice(0, 8)), { k: 2, variance: 0.004, seed: 0, maxSize: 8 }) });
    const vars = model.trainableVariables;
    const pool = await GradientWorkers.start(bad, { clapDim: 16, sizes: vars.map((v) => v.size) });
    const values = vars.map((v) => v.dataSync().slice() as Float32Array);
    const example = model.encodeExample({ instruction: 'is it loud?', answer: 'yes' });
    // A well-formed step works: a loss and one gradient per trainable tensor.
    const ok = await pool.gradients(1, values, [[{ embeddings: createEmbeddings(1, 16, new Float32Array(16).fill(0.25)), examples: [example] }]], 4);
    expect(ok[0].loss).toBeGreaterThan(0);
    expect(ok[0].grads.map((g) => g.length)).toEqual(vars.map((v) => v.size));
    const failing = pool.gradients(7, values, [[{ embeddings: createEmbeddings(2, 16), examples: [example] }]], 4);
    await expect(failing).rejects.toThrow(/train\.workers: worker 1 failed at step 7: trainingLoss: 2 embeddings for 1 examples/);
    // The pool stays failed, then closes (the test process exits: nothing hangs).
    await expect(pool.gradients(8, values, [[]], 4)).rejects.toThrow(/worker 1 failed at step 7/);
    await pool.close();
    await model.dispose();
  });

  it('refuses a caller-supplied LLM (the workers load llm.dir) and more workers than rows', async () => {
    const texts = makeData(dir);
    await expect(train(config('own-llm', { workers: 2 }), { ...quiet, components: { clap: standInClap(), llm: standInLlm(texts) } })).rejects.toThrow(/train\.workers: 2 workers load the LLM from llm\.dir/);
    await expect(train(config('too-many', { workers: 9 }), { ...quiet, components: { clap: standInClap() } })).rejects.toThrow(/train\.workers: 9 shares of a batch of 8 rows/);
  });
});
