/**
 * @mats/datasets benchmarks. Run:  npx tsx packages/datasets/bench/datasets.bench.ts
 *   - JSONL streaming read of AudioTIA records (validated), records/s
 *   - world generation for the default size (metadata + rendering + writing 2 800 WAV files), seconds
 *   - resampling a 7 s clip 16 kHz -> 44.1 kHz (what msclap preparation does), samples/s
 * BENCH_QUICK=1 uses smaller sizes. Each measurement: warm-up, several repetitions, value = median.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateWorld, writeWorld, writeJsonl, readRecords, resample, type AudioTIARecord } from '../src/index.js';

const QUICK = process.env.BENCH_QUICK === '1';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function measure(name: string, unit: string, higherIsBetter: boolean, params: Record<string, unknown>, warmup: number, repeats: number, run: () => Promise<number>): Promise<void> {
  for (let i = 0; i < warmup; i++) await run();
  const samples: number[] = [];
  for (let i = 0; i < repeats; i++) samples.push(await run());
  const value = median(samples);
  console.log(`${name}: ${value.toPrecision(4)} ${unit} (median of ${repeats}: ${samples.map((s) => s.toPrecision(4)).join(', ')})`);
  console.log(JSON.stringify({ benchmark: `datasets/${name}`, value, unit, higherIsBetter, samples, params }));
}

const dir = mkdtempSync(join(tmpdir(), 'mats-datasets-bench-'));
try {
  // --- JSONL streaming ---
  const n = QUICK ? 20_000 : 200_000;
  const path = join(dir, 'records.jsonl');
  const words = ['a', 'dog', 'barks', 'loudly', 'while', 'rain', 'falls', 'on', 'the', 'roof', 'then', 'a', 'car', 'passes'];
  await writeJsonl(
    path,
    (function* () {
      for (let i = 0; i < n; i++) {
        const text = Array.from({ length: 12 }, (_, k) => words[(i * 7 + k * 3) % words.length]).join(' ');
        const r: AudioTIARecord = { id: `r${i}`, text, instruction: 'Generate audio caption.', answer: text, task: 'cap', audioType: 'sound', source: 'bench', audio: `audio/${i}.wav` };
        yield r;
      }
    })(),
  );
  await measure('jsonl-read', 'records/s', true, { records: n, validated: true }, 1, 5, async () => {
    const t0 = performance.now();
    let count = 0;
    for await (const _ of readRecords(path)) count++;
    if (count !== n) throw new Error(`read ${count} records, expected ${n}`);
    return n / ((performance.now() - t0) / 1000);
  });

  // --- world generation (default size) ---
  // Wall time is the value; process CPU seconds are recorded too (this machine is shared, so wall time varies with load).
  const size = QUICK ? 'small' : 'default';
  const cpuSeconds: number[] = [];
  await measure('world-generation', 's', false, { size, seed: 0, sampleRate: 16000, clipSeconds: 2, cpuSeconds }, QUICK ? 1 : 0, 3, async () => {
    const out = join(dir, 'world');
    rmSync(out, { recursive: true, force: true });
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    await writeWorld(generateWorld({ seed: 0, size }), out);
    const c = process.cpuUsage(c0);
    cpuSeconds.push((c.user + c.system) / 1e6);
    const s = (performance.now() - t0) / 1000;
    rmSync(out, { recursive: true, force: true });
    return s;
  });

  // --- resampling ---
  const x = Float32Array.from({ length: 16000 * 7 }, (_, i) => Math.sin(i * 0.05) * 0.5);
  await measure('resample-16k-to-44k', 'input samples/s', true, { inputSamples: x.length, from: 16000, to: 44100 }, 1, 5, async () => {
    const t0 = performance.now();
    resample(x, 16000, 44100);
    return x.length / ((performance.now() - t0) / 1000);
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
