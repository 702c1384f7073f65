// The committed tiny CLAP of the synthetic world on the webgpu backend (dawn.node): audio and text
// embeddings equal to the cpu backend's within 1e-4. Public API only. Skipped, with the reason in the
// suite name, where no WebGPU adapter exists (CI installs Mesa 25 lavapipe, see .ci/run).
import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { Rng, probeWebGpu, releaseWebGpu, selectBackend, type Embeddings } from '@mats/core';
import type { AudioClip } from '@mats/datasets';
import { TINY_CLAP_WORLD_DIR, loadClap } from './index.js';

function clip(seed: number): AudioClip {
  const rng = new Rng(seed);
  const x = new Float32Array(16000);
  const f = 200 + 300 * seed;
  for (let i = 0; i < x.length; i++) x[i] = 0.4 * Math.sin((2 * Math.PI * f * i) / 16000) + 0.05 * rng.normal();
  return { sampleRate: 16000, channels: [x] };
}

function maxAbsDiff(a: Embeddings, b: Embeddings): number {
  expect([a.rows, a.dim]).toEqual([b.rows, b.dim]);
  let m = 0;
  for (let i = 0; i < a.data.length; i++) m = Math.max(m, Math.abs(a.data[i] - b.data[i]));
  return m;
}

async function embed(backend: 'cpu' | 'webgpu'): Promise<{ audio: Embeddings; text: Embeddings }> {
  await selectBackend(backend);
  const clap = await loadClap({ type: 'tiny', dir: TINY_CLAP_WORLD_DIR });
  const out = { audio: await clap.embedAudio([clip(1), clip(2), clip(3)]), text: await clap.embedText(['a dog barks', 'rain falls on a roof', 'a bell rings twice']) };
  expect(tf.getBackend()).toBe(backend);
  await clap.dispose();
  return out;
}

const probe = await probeWebGpu();
const reason = probe.available ? '' : ` (skipped: ${probe.reason})`;
afterAll(async () => {
  releaseWebGpu();
  await selectBackend('wasm');
});

// Generous: lavapipe compiles every shader on a busy CPU the first time it runs.
describe.skipIf(!probe.available)(`tiny CLAP on webgpu${reason}`, { timeout: 300_000 }, () => {
  it('audio and text embeddings equal the cpu backend within 1e-4 (TinyClap reads its results asynchronously)', async () => {
    const cpu = await embed('cpu');
    const gpu = await embed('webgpu');
    expect(maxAbsDiff(gpu.audio, cpu.audio)).toBeLessThan(1e-4);
    expect(maxAbsDiff(gpu.text, cpu.text)).toBeLessThan(1e-4);
    expect(Math.hypot(...gpu.text.data.subarray(0, gpu.text.dim))).toBeGreaterThan(1); // raw LayerNorm output, not zeros
  });
});
