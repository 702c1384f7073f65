/**
 * @mats/clap throughput: audio seconds embedded per wall second and texts per second for the fixture
 * ONNX model pair (onnxruntime-node, CPU) and the committed TinyClap (tfjs), and log-mel speed (x real time).
 *
 *   NX_DAEMON=false npx nx run @mats/clap:build && npx tsx packages/clap/bench/clap.bench.ts
 *
 * Each measurement: one warm-up, then REPS repetitions; value = median. The fixture ONNX models are
 * small random networks with msclap's input contract (7 s at 44.1 kHz), so their numbers measure the
 * TypeScript preparation + onnxruntime plumbing, not the real HTSAT's compute.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Rng, selectBackend } from '@mats/core';
import type { AudioClip } from '@mats/datasets';
import { LogMel, MSCLAP_MEL, OnnxClap, TinyClap, TINY_CLAP_WORLD_DIR, type ClapEncoder } from '../src/index.js';

const REPS = Number(process.env.BENCH_REPS ?? 5);
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function measure(fn: () => Promise<unknown> | unknown): Promise<number[]> {
  await fn();
  const seconds: number[] = [];
  for (let i = 0; i < REPS; i++) {
    const t0 = performance.now();
    await fn();
    seconds.push((performance.now() - t0) / 1000);
  }
  return seconds;
}

function report(name: string, unit: string, perRun: number, seconds: number[], params: Record<string, unknown>, label: string): void {
  const samples = seconds.map((s) => perRun / s);
  const value = median(samples);
  console.log(`${label}: ${value.toFixed(2)} ${unit}`);
  console.log(JSON.stringify({ benchmark: `clap/${name}`, value, unit, higherIsBetter: true, samples, params }));
}

function tones(count: number, sampleRate: number, seconds: number): AudioClip[] {
  const rng = new Rng(1);
  return Array.from({ length: count }, (_, k) => {
    const n = Math.round(sampleRate * seconds);
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = 0.4 * Math.sin((2 * Math.PI * (200 + 50 * k) * i) / sampleRate) + 0.02 * rng.normal();
    return { sampleRate, channels: [x] };
  });
}

const TEXTS = Array.from({ length: 64 }, (_, i) => `a loud dog barks ${i % 5 + 1} times while a siren wails in the distance`);

async function encoderBench(name: string, clap: ClapEncoder, clips: AudioClip[], clipSeconds: number, params: Record<string, unknown>): Promise<void> {
  const audio = await measure(() => clap.embedAudio(clips));
  report(`${name}-audio`, 'audio s/s', clips.length * clipSeconds, audio, { ...params, clips: clips.length, clipSeconds }, `${name}: audio embedded`);
  const text = await measure(() => clap.embedText(TEXTS));
  report(`${name}-text`, 'texts/s', TEXTS.length, text, { ...params, texts: TEXTS.length }, `${name}: texts embedded`);
}

// ONNX fixture pair: 7 s clips at 44.1 kHz (no resampling) and at 16 kHz (resampled to 44.1 kHz first).
const onnx = await OnnxClap.create({ audioModel: fixture('tiny_audio.onnx'), textModel: fixture('tiny_text.onnx'), batchSize: 8 });
await encoderBench('onnx-fixture', onnx, tones(8, 44100, 7), 7, { batchSize: 8, sampleRate: 44100, runtime: 'onnxruntime-node cpu' });
const resampled = await measure(() => onnx.embedAudio(tones(8, 16000, 7)));
report('onnx-fixture-audio-16k', 'audio s/s', 56, resampled, { batchSize: 8, sampleRate: 16000, note: 'includes resampling 16k -> 44.1k' }, 'onnx-fixture: audio embedded from 16 kHz');
await onnx.dispose();

// TinyClap: the committed world model when present.
const backend = await selectBackend('wasm');
if (existsSync(TINY_CLAP_WORLD_DIR)) {
  const tiny = TinyClap.load(TINY_CLAP_WORLD_DIR, { batchSize: 64 });
  await encoderBench('tiny-clap', tiny, tones(64, 16000, 2), 2, { batchSize: 64, sampleRate: 16000, backend: backend.selected });
  await tiny.dispose();
} else {
  console.log(`tiny-clap: skipped (${TINY_CLAP_WORLD_DIR} not found)`);
}

// Log-mel speed, x real time.
const melMsclap = new LogMel(MSCLAP_MEL);
const long = tones(1, 44100, 7)[0].channels[0];
report('logmel-msclap', 'x real time', 7, await measure(() => melMsclap.compute(long)), { ...MSCLAP_MEL, seconds: 7 }, 'log-mel (msclap parameters, 7 s)');
const melTiny = new LogMel({ sampleRate: 16000, nFft: 512, hopLength: 256, nMels: 64, fmin: 0, fmax: 8000 });
const short = tones(1, 16000, 2)[0].channels[0];
report('logmel-tiny', 'x real time', 2, await measure(() => melTiny.compute(short)), { sampleRate: 16000, nFft: 512, hopLength: 256, nMels: 64, seconds: 2 }, 'log-mel (tiny CLAP parameters, 2 s)');
