import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { selectBackend } from './backend.js';

const child = fileURLToPath(new URL('../test/wasm-threads-child.ts', import.meta.url));

/** Runs the child with `threads` wasm threads in its own process (tfjs initialises wasm once per process). */
function runChild(threads: number): { threads: number; unset: number; hash: string; sum: number; again: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', child, String(threads)], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    encoding: 'utf8',
    timeout: 300_000,
  });
  expect(r.status, `child (${threads} threads) failed: ${r.stderr}`).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}

describe('wasm threads', () => {
  it('runs XNNPACK on 2 threads in Node with the same bytes as 1 thread, and the process still exits', () => {
    const one = runChild(1);
    const two = runChild(2);
    expect(one.threads).toBe(1);
    expect(two.threads).toBe(2);
    expect([one.unset, two.unset]).toEqual([1, 2]);
    // matMul, conv2d and depthwiseConv2d outputs: identical bytes.
    expect(two.hash).toBe(one.hash);
    expect(Number.isFinite(one.sum)).toBe(true);
    // The first initialisation fixes the count; asking for another later names both.
    expect(one.again).toMatch(/already runs 1 thread\(s\), asked for 2/);
    expect(two.again).toMatch(/already runs 2 thread\(s\), asked for 1/);
  });

  it('rejects a thread count outside 1..8', async () => {
    await expect(selectBackend('wasm', { wasmThreads: 0 })).rejects.toThrow(/wasmThreads: expected an integer from 1 to 8, got 0/);
    await expect(selectBackend('wasm', { wasmThreads: 1.5 })).rejects.toThrow(/got 1.5/);
  });
});
