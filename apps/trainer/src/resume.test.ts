import { appendFileSync, mkdtempSync, readFileSync, readdirSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSafetensors } from '@mats/core';
import type { ClapEncoder } from '@mats/clap';
import { type MatsConfig, readMetrics, resolveConfig } from '@mats/app-shared';
import { train } from './train.js';
import { makeData, standInClap, standInLlm } from '../test/fixtures.js';

function tinyConfig(dir: string, name: string, extra: Record<string, string> = {}): MatsConfig {
  const o = (path: string, raw: string) => ({ path, raw });
  return resolveConfig({
    overrides: [
      o('name', name),
      o('runsDir', join(dir, 'runs')),
      o('backend', 'wasm'),
      o('world', 'null'),
      o('clap.dir', join(dir, 'no-clap')),
      o('llm.dir', join(dir, 'no-llm')),
      o('data.train', JSON.stringify([{ path: join(dir, 'train.jsonl'), weight: 1, audioDir: null }])),
      o('data.validationFraction', '0.1'),
      o('cache.dir', join(dir, 'cache')),
      o('cache.partSize', '8'),
      o('mapper.layers', '1'),
      o('mapper.prefixLength', '2'),
      o('mapper.clipLength', '2'),
      o('mapper.heads', '2'),
      o('train.steps', '6'),
      o('train.batchSize', '4'),
      o('train.warmupSteps', '2'),
      o('train.lr', '0.01'),
      o('train.logEvery', '1'),
      o('train.validateEvery', '2'),
      o('train.checkpointEvery', '0'),
      o('santa.k', '2'),
      o('santa.memorySize', '10'),
      ...Object.entries(extra).map(([path, raw]) => o(path, raw)),
    ],
  });
}

function tensors(file: string): Map<string, number[]> {
  const st = readSafetensors(file);
  return new Map([...st.tensors.entries()].map(([k, t]) => [k, Array.from(t.data as Float32Array)]));
}

describe('trainer resume', () => {
  it('a run stopped at step 3 and resumed ends with the same weights as an uninterrupted run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mats-resume-'));
    const texts = makeData(dir);
    const quiet = { pictures: false, progress: 'silent' as const, log: () => {} };

    const full = await train(tinyConfig(dir, 'full'), { ...quiet, components: { clap: standInClap(), llm: standInLlm(texts) } });
    expect(full.step).toBe(6);

    const stopped = await train(tinyConfig(dir, 'split'), { ...quiet, stopAfterStep: 3, components: { clap: standInClap(), llm: standInLlm(texts) } });
    expect(stopped).toMatchObject({ step: 3, stopped: true });
    const resumed = await train(tinyConfig(dir, 'split'), { ...quiet, resume: true, components: { clap: standInClap(), llm: standInLlm(texts) } });
    expect(resumed).toMatchObject({ step: 6, stopped: false });

    for (const file of ['mapper.safetensors', 'adapter_model.safetensors']) {
      const a = tensors(join(full.runDir, file));
      const b = tensors(join(resumed.runDir, file));
      expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
      for (const [name, values] of a) expect(b.get(name), `${file}: ${name}`).toEqual(values);
    }
    // The weights did move (the comparison is not between two untouched initialisations).
    const initial = tensors(join(dir, 'runs', 'split', 'checkpoints', 'step-00000003', 'adapter_model.safetensors'));
    const final = tensors(join(resumed.runDir, 'adapter_model.safetensors'));
    expect(JSON.stringify([...final.values()])).not.toEqual(JSON.stringify([...initial.values()]));
    // The metrics log of the resumed run is the uninterrupted one, line for line.
    expect(readMetrics(resumed.runDir).map((m) => [m.step, m.loss, m.validationLoss])).toEqual(readMetrics(full.runDir).map((m) => [m.step, m.loss, m.validationLoss]));
    expect(readFileSync(join(resumed.runDir, 'santa.safetensors'))).toEqual(readFileSync(join(full.runDir, 'santa.safetensors')));
  }, 300_000);

  it('a diverged run stops at the next loss read (a log step), naming the first step with a non-finite loss', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mats-resume-'));
    const texts = makeData(dir);
    const quiet = { pictures: false, progress: 'silent' as const, log: () => {} };
    // lr 1e30 with no warm-up and no clipping blows the weights up within a step or two.
    const config = tinyConfig(dir, 'diverge', { 'train.lr': '1e30', 'train.warmupSteps': '0', 'train.gradClip': '0', 'train.logEvery': '4', 'train.validateEvery': '0' });
    const error = await train(config, { ...quiet, components: { clap: standInClap(), llm: standInLlm(texts) } }).then(() => null, (e: Error) => e);
    expect(error?.message).toMatch(/^training diverged: loss (NaN|-?Infinity) at step [1-4] \(lower train.lr\?\)$/);
    // Nothing was logged: the read happens at step 4, the first log step.
    expect(readMetrics(join(dir, 'runs', 'diverge'))).toEqual([]);
  }, 300_000);

  it('resuming a finished run keeps its final and validation loss (from the metrics), and writes no second run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mats-resume-'));
    const texts = makeData(dir);
    const quiet = { pictures: false, progress: 'silent' as const, log: () => {} };
    const first = await train(tinyConfig(dir, 'done'), { ...quiet, components: { clap: standInClap(), llm: standInLlm(texts) } });
    const again = await train(tinyConfig(dir, 'done'), { ...quiet, resume: true, components: { clap: standInClap(), llm: standInLlm(texts) } });
    expect(again.step).toBe(6);
    expect(again.finalLoss).toBe(first.finalLoss === null ? null : Number(first.finalLoss.toFixed(6)));
    expect(again.validationLoss).toBe(first.validationLoss === null ? null : Number(first.validationLoss.toFixed(6)));
    expect(again.finalLoss).not.toBeNull();
    const summary = JSON.parse(readFileSync(join(again.runDir, 'train-summary.json'), 'utf8'));
    expect(summary.finalLoss).toBe(again.finalLoss);
    expect(summary.pictures).toEqual({ errors: [], skippedClips: [] });
  }, 120_000);

  it('a NaN embedding (here of one text) stops the run at the embedding stage, naming the text', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mats-nan-'));
    const texts = makeData(dir);
    const victim = texts[0];
    const clap = standInClap();
    const bad: ClapEncoder = {
      ...clap,
      embedText: async (items: string[]) => {
        const e = await clap.embedText(items);
        items.forEach((t, r) => t === victim && (e.data[r * e.dim + 3] = Number.NaN));
        return e;
      },
    };
    const quiet = { pictures: false, progress: 'silent' as const, log: () => {} };
    await expect(train(tinyConfig(dir, 'nan'), { ...quiet, components: { clap: bad, llm: standInLlm(texts) } })).rejects.toThrow(
      new RegExp(`embeddings of text items \\d+\\.\\.\\d+: the text embedding of "${victim}" \\(item \\d+\\) has a non-finite value NaN at column 3`),
    );
  }, 120_000);

  it('refuses to resume with different training settings, naming the field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mats-resume-'));
    const texts = makeData(dir);
    const quiet = { pictures: false, progress: 'silent' as const, log: () => {} };
    await train(tinyConfig(dir, 'r'), { ...quiet, stopAfterStep: 1, components: { clap: standInClap(), llm: standInLlm(texts) } });
    const changed = { ...tinyConfig(dir, 'r') };
    changed.train = { ...changed.train, lr: 0.5 };
    await expect(train(changed, { ...quiet, resume: true, components: { clap: standInClap(), llm: standInLlm(texts) } })).rejects.toThrow(/different train\.lr/);
    await expect(train(tinyConfig(dir, 'r'), { ...quiet, components: { clap: standInClap(), llm: standInLlm(texts) } })).rejects.toThrow(/already exists: pass --resume/);
  }, 300_000);

  it('resumes a run folder written before data.streaming existed (its config.json lacks the new fields)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mats-resume-old-'));
    const texts = makeData(dir);
    const quiet = { pictures: false, progress: 'silent' as const, log: () => {} };
    await train(tinyConfig(dir, 'old'), { ...quiet, stopAfterStep: 2, components: { clap: standInClap(), llm: standInLlm(texts) } });
    const configFile = join(dir, 'runs', 'old', 'config.json');
    const stored = JSON.parse(readFileSync(configFile, 'utf8'));
    delete stored.config.data.streaming;
    delete stored.config.data.skipBad;
    writeFileSync(configFile, JSON.stringify(stored));
    const resumed = await train(tinyConfig(dir, 'old'), { ...quiet, resume: true, components: { clap: standInClap(), llm: standInLlm(texts) } });
    expect(resumed).toMatchObject({ step: 6, stopped: false });
  }, 60_000);

  it('micro-batches with summed gradients give the whole batch\'s update (dropout off)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mats-micro-'));
    const texts = makeData(dir);
    const quiet = { pictures: false, progress: 'silent' as const, log: () => {} };
    const config = (name: string, micro: number | null) => {
      const c = tinyConfig(dir, name);
      return { ...c, lora: { ...c.lora, dropout: 0 }, train: { ...c.train, microBatch: micro } };
    };
    const whole = await train(config('whole', null), { ...quiet, components: { clap: standInClap(), llm: standInLlm(texts) } });
    const micro = await train(config('micro', 1), { ...quiet, components: { clap: standInClap(), llm: standInLlm(texts) } });
    for (const file of ['mapper.safetensors', 'adapter_model.safetensors']) {
      const a = tensors(join(whole.runDir, file));
      const b = tensors(join(micro.runDir, file));
      for (const [name, values] of a) {
        const other = b.get(name)!;
        const diff = Math.max(...values.map((v, i) => Math.abs(v - other[i])));
        expect(diff, `${file}: ${name}`).toBeLessThan(2e-5);
      }
    }
    const lossesA = readMetrics(whole.runDir).filter((m) => m.loss !== undefined).map((m) => m.loss as number);
    const lossesB = readMetrics(micro.runDir).filter((m) => m.loss !== undefined).map((m) => m.loss as number);
    expect(lossesB.length).toBe(6);
    lossesA.forEach((l, i) => expect(lossesB[i]).toBeCloseTo(l, 4));
  }, 300_000);
});

/** Every file under a folder, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((f) => join(dir, f)).filter((f) => statSync(f).isFile());
}

function expectSameWeights(dirA: string, dirB: string): void {
  for (const file of ['mapper.safetensors', 'adapter_model.safetensors']) {
    const a = tensors(join(dirA, file));
    const b = tensors(join(dirB, file));
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    for (const [name, values] of a) expect(b.get(name), `${file}: ${name}`).toEqual(values);
  }
}

describe('trainer with data.streaming', () => {
  const streaming = { 'data.streaming': 'true', 'data.validationFraction': '0.3' };
  const quiet = { pictures: false, progress: 'silent' as const, log: () => {} };

  it('a streamed run stopped mid-epoch and resumed is bit-identical to an uninterrupted one (weights, metrics, memory)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mats-stream-resume-'));
    const texts = makeData(dir);
    const full = await train(tinyConfig(dir, 'full', streaming), { ...quiet, components: { clap: standInClap(), llm: standInLlm(texts) } });
    expect(full.step).toBe(6);
    // 24 records, 30 % held out: step 3 (12 draws) is in the middle of the first epoch.
    const stopped = await train(tinyConfig(dir, 'split', streaming), { ...quiet, stopAfterStep: 3, components: { clap: standInClap(), llm: standInLlm(texts) } });
    expect(stopped).toMatchObject({ step: 3, stopped: true });
    const state = JSON.parse(readFileSync(join(dir, 'runs', 'split', 'checkpoints', 'step-00000003', 'state.json'), 'utf8'));
    expect(state.sampler).toBeUndefined();
    expect(state.data.sources[0]).toMatchObject({ epoch: 0, drawn: 12 }); // mid-epoch
    const resumed = await train(tinyConfig(dir, 'split', streaming), { ...quiet, resume: true, components: { clap: standInClap(), llm: standInLlm(texts) } });
    expect(resumed).toMatchObject({ step: 6, stopped: false });

    expectSameWeights(full.runDir, resumed.runDir);
    const initial = tensors(join(dir, 'runs', 'split', 'checkpoints', 'step-00000003', 'adapter_model.safetensors'));
    expect(JSON.stringify([...tensors(join(resumed.runDir, 'adapter_model.safetensors')).values()])).not.toEqual(JSON.stringify([...initial.values()]));
    const metrics = (d: string) => readMetrics(d).map((m) => [m.step, m.loss, m.validationLoss]);
    expect(metrics(resumed.runDir)).toEqual(metrics(full.runDir));
    expect(metrics(full.runDir).filter((m) => m[2] !== undefined).length).toBe(3);
    expect(readFileSync(join(resumed.runDir, 'santa.safetensors'))).toEqual(readFileSync(join(full.runDir, 'santa.safetensors')));
    const summary = JSON.parse(readFileSync(join(full.runDir, 'train-summary.json'), 'utf8'));
    expect(summary).toMatchObject({ streaming: true, skippedLines: { [join(dir, 'train.jsonl')]: 0 } });
    expect(summary.trainRecords + summary.validationRecords).toBe(24);

    // The streamed run draws other batches than the in-memory one (a different mixer), so its weights differ.
    const inMemory = await train(tinyConfig(dir, 'memory'), { ...quiet, components: { clap: standInClap(), llm: standInLlm(texts) } });
    expect(JSON.stringify([...tensors(join(inMemory.runDir, 'mapper.safetensors')).values()])).not.toEqual(JSON.stringify([...tensors(join(full.runDir, 'mapper.safetensors')).values()]));
    // A streamed checkpoint is not resumed by the in-memory reader.
    await expect(train(tinyConfig(dir, 'split', { 'data.validationFraction': '0.3' }), { ...quiet, resume: true, components: { clap: standInClap(), llm: standInLlm(texts) } })).rejects.toThrow(/different data\.streaming/);
  }, 180_000);

  it('micro-batches of streamed batches give the whole batch\'s update (dropout off)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mats-stream-micro-'));
    const texts = makeData(dir);
    const config = (name: string, micro: number | null) => {
      const c = tinyConfig(dir, name, streaming);
      return { ...c, lora: { ...c.lora, dropout: 0 }, train: { ...c.train, microBatch: micro } };
    };
    const whole = await train(config('whole', null), { ...quiet, components: { clap: standInClap(), llm: standInLlm(texts) } });
    const micro = await train(config('micro', 1), { ...quiet, components: { clap: standInClap(), llm: standInLlm(texts) } });
    for (const file of ['mapper.safetensors', 'adapter_model.safetensors']) {
      const a = tensors(join(whole.runDir, file));
      const b = tensors(join(micro.runDir, file));
      for (const [name, values] of a) {
        const other = b.get(name)!;
        const diff = Math.max(...values.map((v, i) => Math.abs(v - other[i])));
        expect(diff, `${file}: ${name}`).toBeLessThan(2e-5);
      }
    }
    const losses = (d: string) => readMetrics(d).filter((m) => m.loss !== undefined).map((m) => m.loss as number);
    expect(losses(micro.runDir).length).toBe(6);
    losses(whole.runDir).forEach((l, i) => expect(losses(micro.runDir)[i]).toBeCloseTo(l, 4));
  }, 180_000);

  it('a truncated cache part is re-embedded, not trusted: the run equals one on an intact cache', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mats-stream-cache-'));
    const texts = makeData(dir);
    const reference = await train(tinyConfig(dir, 'reference', { ...streaming, 'cache.dir': join(dir, 'cache-ref'), 'train.steps': '2' }), { ...quiet, components: { clap: standInClap(), llm: standInLlm(texts) } });
    const config = tinyConfig(dir, 'repaired', { ...streaming, 'train.steps': '2' });
    // The embedding stage alone (as a shard job would run it), then a part cut short.
    await train(config, { ...quiet, stage: 'embed', components: { clap: standInClap(), llm: standInLlm(texts) } });
    const parts = filesUnder(join(dir, 'cache')).filter((f) => f.endsWith('.safetensors')).sort();
    expect(parts.length).toBe(3); // 24 records in parts of 8
    truncateSync(parts[1], statSync(parts[1]).size - 10);
    const lines: string[] = [];
    const repaired = await train(config, { ...quiet, log: (l) => lines.push(l), components: { clap: standInClap(), llm: standInLlm(texts) } });
    expect(lines.find((l) => l.startsWith('embedding cache (text, streamed'))).toMatch(/1 part\(s\) embedded, 2 already there/);
    expectSameWeights(reference.runDir, repaired.runDir);
  }, 180_000);

  it('bad input: a malformed line stops at file:line, or is skipped and counted with data.skipBad', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mats-stream-bad-'));
    const texts = makeData(dir);
    appendFileSync(join(dir, 'train.jsonl'), '{"id": "broken", "text": \n');
    const file = join(dir, 'train.jsonl');
    await expect(train(tinyConfig(dir, 'stops', { ...streaming, 'train.steps': '1' }), { ...quiet, components: { clap: standInClap(), llm: standInLlm(texts) } })).rejects.toThrow(`${file}:25`);
    const skipped = await train(tinyConfig(dir, 'skips', { ...streaming, 'data.skipBad': 'true', 'train.steps': '1' }), { ...quiet, components: { clap: standInClap(), llm: standInLlm(texts) } });
    expect(JSON.parse(readFileSync(join(skipped.runDir, 'train-summary.json'), 'utf8')).skippedLines).toEqual({ [file]: 1 });
    await expect(train(tinyConfig(dir, 'in-memory', { 'data.skipBad': 'true' }), { ...quiet, components: { clap: standInClap(), llm: standInLlm(texts) } })).rejects.toThrow('data.skipBad: skipping malformed lines needs the streaming reader (data.streaming: true)');
  }, 180_000);
});
