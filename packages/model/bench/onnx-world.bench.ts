/**
 * The world MMAU evaluation end to end, tfjs-wasm against onnxruntime-node, on the trained world
 * run: `MatsModel.load(runDir)` (tfjs) and `MatsModel.load(exportDir, { intraOpThreads })` (the
 * export of the same run, 1 and 2 threads) answer the same MMAU items (decoded clips: tiny CLAP,
 * Santa, mapper, batched greedy generation); wall time (items/s) and whether the answers are
 * identical. Needs a trained run (`npx nx run trainer:train`) and the generated world; skips (no
 * rows) without them. Run:
 *   npx tsx packages/model/bench/onnx-world.bench.ts [--run runs/world] [--world world] [--items 100]
 * (or MATS_RUN, MATS_WORLD, BENCH_ITEMS).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { decodeAudioFile, mmauPrompt, type AudioClip } from '@mats/datasets';
import { MatsModel, exportRun } from '../src/index.js';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const arg = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
  const root = resolve(import.meta.dirname, '../../..');
  const runDir = resolve(arg('--run') ?? process.env.MATS_RUN ?? join(root, 'runs/world'));
  const worldDir = resolve(arg('--world') ?? process.env.MATS_WORLD ?? join(root, 'world'));
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
    const t0 = performance.now();
    const manifest = await exportRun(runDir, out);
    console.error(`exported ${runDir} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const answerAll = async (dir: string, options: Parameters<typeof MatsModel.load>[1]): Promise<{ answers: string[]; seconds: number; batchSize: number }> => {
      const model = await MatsModel.load(dir, { ...options, generation });
      try {
        await model.answer(items.slice(0, 2));
        const t = performance.now();
        const answers = await model.answer(items);
        return { answers, seconds: (performance.now() - t) / 1000, batchSize: model.spec.batchSize };
      } finally {
        await model.dispose();
      }
    };
    const tfjs = await answerAll(runDir, { backend: 'wasm' });
    const params = { items: items.length, batch: tfjs.batchSize, generation: 'greedy, 32 new tokens max', run: runDir, llm: manifest.llm };
    const tfjsRate = items.length / tfjs.seconds;
    console.log(`model/mmau-world-tfjs-wasm: ${tfjsRate.toFixed(2)} items/s (${tfjs.seconds.toFixed(1)} s for ${items.length} items)`);
    console.log(JSON.stringify({ benchmark: 'model/mmau-world-tfjs-wasm', value: tfjsRate, unit: 'items/s', higherIsBetter: true, samples: [tfjsRate], params: { ...params, engine: 'tfjs', wallSeconds: tfjs.seconds } }));
    for (const threads of [1, 2]) {
      // The export's manifest does not hold the run's batch size: use the run's, so the rows match.
      const onnx = await answerAll(out, { intraOpThreads: threads, batchSize: tfjs.batchSize });
      const same = onnx.answers.filter((a, i) => a === tfjs.answers[i]).length;
      const rate = items.length / onnx.seconds;
      const name = `model/mmau-world-onnx-t${threads}`;
      console.log(`${name}: ${rate.toFixed(2)} items/s (${onnx.seconds.toFixed(1)} s), ${(rate / tfjsRate).toFixed(2)}x tfjs-wasm, identical answers ${same}/${items.length}`);
      console.log(
        JSON.stringify({
          benchmark: name,
          value: rate,
          unit: 'items/s',
          higherIsBetter: true,
          samples: [rate],
          params: { ...params, engine: 'onnxruntime-node', threads, wallSeconds: onnx.seconds, vsTfjs: Number((rate / tfjsRate).toFixed(3)), identicalAnswers: same },
        }),
      );
      if (same !== items.length) {
        const i = onnx.answers.findIndex((a, k) => a !== tfjs.answers[k]);
        console.error(`first differing answer, item ${i}: tfjs ${JSON.stringify(tfjs.answers[i])} vs onnx ${JSON.stringify(onnx.answers[i])}`);
      }
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
