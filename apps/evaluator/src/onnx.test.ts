import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng, selectBackend } from '@mats/core';
import { TINY_CLAP_WORLD_DIR, TinyClap } from '@mats/clap';
import { generateWorld, writeWorld } from '@mats/datasets';
import { TINY_WORLD_LM_DIR, loadCausalLM } from '@mats/llm-lora';
import { MatsModel, exportRun } from '@mats/model';
import { buildMemory } from '@mats/santa';
import { modelSpec, resolveConfig, writeJson } from '@mats/app-shared';
import { runCli } from './cli.js';
import { evaluateTarget } from './evaluate.js';
import { readRunConfig } from './model.js';

const dir = mkdtempSync(join(tmpdir(), 'mats-eval-onnx-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Prediction = { id: string; model_output: string };
const predictions = (outDir: string): Prediction[] => JSON.parse(readFileSync(join(outDir, 'predictions.json'), 'utf8'));
const report = (outDir: string): { engine: string; items: number } => JSON.parse(readFileSync(join(outDir, 'report.json'), 'utf8'));

describe('evaluator on an export folder (ONNX Runtime)', () => {
  it('mmau --run EXPORT answers the world MMAU items exactly as the run folder on tfjs, and the report says which engine answered', async () => {
    await selectBackend('wasm');
    const worldDir = join(dir, 'world');
    const world = generateWorld({ seed: 0, size: 'small', counts: { pretrain: 12, train: 4, eval: 8 } });
    await writeWorld(world, worldDir);
    const runDir = join(dir, 'runs', 'tiny');
    const config = resolveConfig({
      overrides: [
        { path: 'backend', raw: 'wasm' },
        { path: 'clap.dir', raw: TINY_CLAP_WORLD_DIR },
        { path: 'llm.dir', raw: TINY_WORLD_LM_DIR },
        { path: 'mapper.layers', raw: '1' },
        { path: 'mapper.prefixLength', raw: '4' },
        { path: 'mapper.clipLength', raw: '4' },
        { path: 'eval.run', raw: runDir },
        { path: 'eval.batchSize', raw: '4' },
        { path: 'eval.mmau.data', raw: join(worldDir, 'eval', 'mmau.json') },
        { path: 'eval.mmau.audioDir', raw: worldDir },
        { path: 'eval.generation.maxNewTokens', raw: '8' },
        { path: 'santa.k', raw: '3' },
        { path: 'santa.topL', raw: '4' },
      ],
    });
    // A run as the trainer leaves it (config.json with the trainer's config): random mapper and adapter.
    const clap = TinyClap.load(TINY_CLAP_WORLD_DIR);
    const memory = buildMemory(await clap.embedText(world.pretrain.map((p) => p.caption)), { k: 3, variance: 0.004, seed: 0, maxSize: 100 });
    const model = MatsModel.create(modelSpec(config), { clap, llm: loadCausalLM(TINY_WORLD_LM_DIR), memory });
    const rng = new Rng(5);
    for (const v of model.trainableVariables) v.assign(v.add(rng.normal() * 0.01));
    await model.save(runDir);
    await model.dispose();
    writeJson(join(runDir, 'config.json'), { config });
    const exportDir = join(dir, 'export');
    await exportRun(runDir, exportDir);

    const tfjs = await evaluateTarget('mmau', config, { progress: 'silent', log: () => {} });
    // The command line: the export's copy of the trainer config (run-config.json) is the base config.
    expect(readRunConfig(exportDir)).toMatchObject({ engine: 'onnx', config: { eval: { batchSize: 4, mmau: { audioDir: worldDir } } } });
    await runCli(['mmau', '--run', exportDir]);
    const onnxOut = join(exportDir, 'eval', 'mmau');
    const want = predictions(tfjs.outDir);
    const got = predictions(onnxOut);
    expect(want.length).toBe(world.eval.mmau.length);
    expect(new Set(want.map((p) => p.model_output)).size).toBeGreaterThan(1);
    expect(got.map((p) => [p.id, p.model_output])).toEqual(want.map((p) => [p.id, p.model_output]));
    expect(report(tfjs.outDir).engine).toBe('tfjs (backend wasm)');
    expect(report(onnxOut).engine).toBe('ONNX Runtime (onnxruntime-node, export folder)');
    expect(readFileSync(join(onnxOut, 'report.md'), 'utf8')).toContain('Engine: ONNX Runtime (onnxruntime-node, export folder).');

    // eval.onnxThreads reaches the sessions: one intra-op thread answers the same, and the report says so.
    await runCli(['mmau', '--run', exportDir, '--eval.onnxThreads', '1']);
    expect(predictions(onnxOut).map((p) => [p.id, p.model_output])).toEqual(want.map((p) => [p.id, p.model_output]));
    expect(report(onnxOut).engine).toBe('ONNX Runtime (onnxruntime-node, export folder, 1 intra-op thread)');
    await expect(runCli(['mmau', '--run', exportDir, '--eval.onnxThreads', '0'])).rejects.toThrow(/eval\.onnxThreads/);

    // An export without the trainer's config cannot be a base config: the error says what to pass.
    const bare = join(dir, 'bare-export');
    cpSync(exportDir, bare, { recursive: true });
    rmSync(join(bare, 'run-config.json'));
    expect(() => readRunConfig(bare)).toThrow(/is an ONNX export without its run's trainer config .*pass --preset NAME or --config FILE/);
  });
});
