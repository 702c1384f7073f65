import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '@mats/core';
import { describe, expect, it } from 'vitest';
import { makeData, standInClap, standInLlm, tinyConfig } from '../test/fixtures.js';
import { wasmHeapMiB } from './heap.js';
import { train } from './train.js';

describe('wasmHeapMiB', () => {
  it('is null on the cpu backend', async () => {
    await selectBackend('cpu');
    expect(wasmHeapMiB()).toBeNull();
  });

  it('is the wasm memory size and grows with a large tensor, never shrinking', async () => {
    await selectBackend('wasm');
    const memory = (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm;
    const before = wasmHeapMiB()!;
    expect(before).toBe(Math.round(memory.HEAPU8.length / 2 ** 20));
    // 256 MiB of float32 must be inside the heap while the tensor lives.
    const big = tf.zeros([64, 1024, 1024]);
    const during = wasmHeapMiB()!;
    expect(during).toBeGreaterThanOrEqual(256);
    expect(during).toBeGreaterThan(before);
    big.dispose();
    expect(wasmHeapMiB()).toBe(during);
  });

  it("is the run's peakHeapMiB in train-summary.json (wasm backend)", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mats-heap-'));
    const texts = makeData(dir);
    const result = await train(tinyConfig(dir, 'heap', 2), { pictures: false, progress: 'silent', log: () => {}, components: { clap: standInClap(), llm: standInLlm(texts) } });
    const summary = JSON.parse(readFileSync(join(result.runDir, 'train-summary.json'), 'utf8'));
    // The 256 MiB tensor above grew this process's heap, and a wasm heap never shrinks.
    expect(summary.peakHeapMiB).toBe(wasmHeapMiB());
    expect(summary.peakHeapMiB).toBeGreaterThanOrEqual(256);
  });
});
