/**
 * The world MMAU evaluation end to end, tfjs-wasm (MatsModel.ask) against the ONNX export on
 * onnxruntime-node (askExported, 1 thread), on the trained world run: wall time (items/s) and
 * whether the greedy answers are identical. Needs a trained run (`npx nx run trainer:train`) and the
 * generated world; skips (no rows) without them. Run:
 *   npx tsx packages/model/bench/onnx-world.bench.ts [--run runs/world] [--items 100]
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { decodeAudioFile, mmauPrompt, type AudioClip } from '@mats/datasets';
import { MatsModel, askExported, exportRun, loadExported } from '../src/index.js';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const arg = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
  const root = resolve(import.meta.dirname, '../../..');
  const runDir = resolve(arg('--run') ?? process.env.MATS_RUN ?? join(root, 'runs/world'));
  const worldDir = resolve(arg('--world') ?? join(root, 'world'));
  const count = Number(arg('--items') ?? process.env.BENCH_ITEMS ?? 100);
  const mmauFile = join(worldDir, 'eval/mmau.json');
  if (!existsSync(join(runDir, 'mapper.safetensors')) || !existsSync(mmauFile)) {
    console.error(`skipped: needs a trained run at ${runDir} and the world at ${worldDir} (npx nx run trainer:train)`);
    return;
  }
  const records = (JSON.parse(readFileSync(mmauFile, 'utf8')) as { audio_id: string; question: string; choices: string[] }[]).slice(0, count);
  const clips: AudioClip[] = [];
  for (const r of records) clips.push(await decodeAudioFile(join(worldDir, r.audio_id)));
  const items = records.map((r, i) => ({ audio: clips[i], instruction: mmauPrompt(r.question, r.choices) }));
  const generation = { strategy: 'greedy' as const, maxNewTokens: 32 };

  const out = mkdtempSync(join(tmpdir(), 'mats-onnx-world-'));
  try {
    let t0 = performance.now();
    const manifest = await exportRun(runDir, out);
    console.error(`exported ${runDir} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const model = await MatsModel.load(runDir, { backend: 'wasm', generation });
    const batchSize = model.spec.batchSize;
    await model.answer(items.slice(0, 2));
    t0 = performance.now();
    const want = await model.answer(items);
    const tfjsSeconds = (performance.now() - t0) / 1000;
    await model.dispose();
    const exported = await loadExported(out, { threads: 1 });
    await askExported(exported, items.slice(0, 2), { generation: { numBeams: 1, maxNewTokens: 32 }, batchSize });
    t0 = performance.now();
    const got = await askExported(exported, items, { generation: { numBeams: 1, maxNewTokens: 32 }, batchSize });
    const onnxSeconds = (performance.now() - t0) / 1000;
    await exported.dispose();
    const same = got.filter((a, i) => a === want[i]).length;
    const params = { items: items.length, batch: batchSize, generation: 'greedy, 32 new tokens max', run: runDir, llm: manifest.llm };
    const tfjsRate = items.length / tfjsSeconds;
    const onnxRate = items.length / onnxSeconds;
    console.log(`model/mmau-world-tfjs-wasm: ${tfjsRate.toFixed(2)} items/s (${tfjsSeconds.toFixed(1)} s for ${items.length} items)`);
    console.log(JSON.stringify({ benchmark: 'model/mmau-world-tfjs-wasm', value: tfjsRate, unit: 'items/s', higherIsBetter: true, samples: [tfjsRate], params: { ...params, wallSeconds: tfjsSeconds } }));
    console.log(`model/mmau-world-onnx-t1: ${onnxRate.toFixed(2)} items/s (${onnxSeconds.toFixed(1)} s), ${(onnxRate / tfjsRate).toFixed(2)}x tfjs-wasm, identical answers ${same}/${items.length}`);
    console.log(
      JSON.stringify({
        benchmark: 'model/mmau-world-onnx-t1',
        value: onnxRate,
        unit: 'items/s',
        higherIsBetter: true,
        samples: [onnxRate],
        params: { ...params, threads: 1, wallSeconds: onnxSeconds, vsTfjs: Number((onnxRate / tfjsRate).toFixed(3)), identicalAnswers: same },
      }),
    );
    if (same !== items.length) {
      const i = got.findIndex((a, k) => a !== want[k]);
      console.error(`first differing answer, item ${i}: tfjs ${JSON.stringify(want[i])} vs onnx ${JSON.stringify(got[i])}`);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
