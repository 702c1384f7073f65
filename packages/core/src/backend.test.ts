import { describe, expect, it } from 'vitest';
import { describeBackend, selectBackend } from './backend.js';
import { assertFitsWebGpu, describeAdapter, probeWebGpu, releaseWebGpu } from './webgpu.js';

/** A fake `webgpu` module whose one adapter reports the given info (no Dawn involved). */
function fakeWebGpu(info: Record<string, unknown> | null, maxStorageBufferBindingSize = 2 ** 27) {
  const adapter = info && { info, limits: { maxStorageBufferBindingSize, maxBufferSize: 2 ** 32 - 1 } };
  return { create: () => ({ requestAdapter: async () => adapter }), globals: {} };
}
const NVIDIA = { vendor: 'nvidia', architecture: 'hopper', device: '', description: 'NVIDIA H200', isFallbackAdapter: false };
const LAVAPIPE = { vendor: 'mesa', architecture: 'software', device: 'llvmpipe-llvm-15', description: 'llvmpipe: Mesa 25.0.7', isFallbackAdapter: true };

describe('selectBackend', () => {
  it('auto picks wasm when no native tfjs package is installed', async () => {
    const info = await selectBackend('auto');
    expect(info.selected).toBe('wasm');
    const tf = await import('@tensorflow/tfjs');
    expect(tf.getBackend()).toBe('wasm');
  });

  it('asking for tensorflow without it installed names @tensorflow/tfjs-node', async () => {
    await expect(selectBackend('tensorflow')).rejects.toThrow(/needs the optional package @tensorflow\/tfjs-node[^-].*npm install @tensorflow\/tfjs-node`/);
    await expect(selectBackend('tensorflow-gpu')).rejects.toThrow(/@tensorflow\/tfjs-node-gpu/);
  });

  it('auto tries tfjs-node-gpu, then tfjs-node, then wasm', async () => {
    const tried: string[] = [];
    const nothingNative = async (name: string) => {
      tried.push(name);
      if (name.startsWith('@tensorflow/tfjs-node')) throw new Error(`Cannot find package '${name}'`);
      return import(name);
    };
    expect((await selectBackend('auto', nothingNative)).selected).toBe('wasm');
    expect(tried).toEqual(['@tensorflow/tfjs-node-gpu', 'webgpu', '@tensorflow/tfjs-node', '@tensorflow/tfjs-backend-wasm']);

    // Simulate an installed tfjs-node-gpu: importing it registers the "tensorflow" backend.
    const tf = await import('@tensorflow/tfjs');
    const gpuInstalled = async (name: string) => {
      if (name === '@tensorflow/tfjs-node-gpu') tf.registerBackend('tensorflow', tf.findBackendFactory('cpu')!);
      else throw new Error('unexpected import');
    };
    try {
      const info = await selectBackend('auto', gpuInstalled);
      expect(info).toEqual({ requested: 'auto', selected: 'tensorflow-gpu', tfBackend: 'tensorflow' });
      expect(describeBackend(info)).toBe('tensorflow-gpu');
      expect(tf.getBackend()).toBe('tensorflow');
    } finally {
      tf.removeBackend('tensorflow');
      await selectBackend('wasm');
    }
  });

  it('cpu is selectable and unknown names are rejected', async () => {
    expect((await selectBackend('cpu')).tfBackend).toBe('cpu');
    await expect(selectBackend('webgl' as never)).rejects.toThrow(/unknown backend "webgl", expected one of auto, tensorflow-gpu, webgpu, tensorflow, wasm, cpu/);
  });
});

describe('webgpu selection (simulated adapters)', () => {
  const tf = import('@tensorflow/tfjs');
  /** Importer with a fake `webgpu` module; importing the tfjs backend registers a cpu-backed "webgpu". */
  const importerWith = (webgpu: unknown, tried: string[] = []) => async (name: string) => {
    tried.push(name);
    if (name === 'webgpu') return webgpu;
    if (name === '@tensorflow/tfjs-backend-webgpu') {
      const t = await tf;
      // Like the real package: it registers only when navigator.gpu is there at import time.
      if ((globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu) t.registerBackend('webgpu', t.findBackendFactory('cpu')!);
      return {};
    }
    if (name.startsWith('@tensorflow/tfjs-node')) throw new Error(`Cannot find package '${name}'`);
    return import(name);
  };

  it('classifies adapters: lavapipe / llvmpipe / SwiftShader / fallback are software, a GPU is not', () => {
    const limits = { maxStorageBufferBindingSize: 1, maxBufferSize: 1 };
    expect(describeAdapter({ info: NVIDIA, limits }).software).toBe(false);
    expect(describeAdapter({ info: LAVAPIPE, limits }).software).toBe(true);
    expect(describeAdapter({ info: { vendor: 'google', architecture: '', device: 'swiftshader device', description: '' }, limits }).software).toBe(true);
    expect(describeAdapter({ info: { vendor: 'amd', architecture: 'rdna-3', device: '', description: 'AMD Radeon' }, isFallbackAdapter: true, limits }).software).toBe(true);
    expect(describeAdapter({ info: { vendor: 'mesa', architecture: 'rdna-3', device: '', description: 'AMD Radeon RX 7900 (RADV NAVI31)' }, limits }).software).toBe(false);
  });

  it('auto takes webgpu on a hardware adapter, before tfjs-node, and reports the adapter', async () => {
    const tried: string[] = [];
    try {
      const info = await selectBackend('auto', importerWith(fakeWebGpu(NVIDIA, 2 ** 32 - 4), tried));
      expect(info.selected).toBe('webgpu');
      expect(info.adapter).toMatchObject({ description: 'NVIDIA H200', software: false, maxStorageBufferBindingSize: 2 ** 32 - 4 });
      expect(tried).toEqual(['@tensorflow/tfjs-node-gpu', 'webgpu', '@tensorflow/tfjs-backend-webgpu']);
      expect((await tf).getBackend()).toBe('webgpu');
      expect(describeBackend(info)).toBe('webgpu (NVIDIA H200, max storage binding 4096 MiB)');
    } finally {
      releaseWebGpu();
      await selectBackend('wasm');
    }
    expect((globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu).toBeUndefined();
  });

  it('auto passes over a CPU adapter (lavapipe) and says why; explicit webgpu takes it', async () => {
    const importer = importerWith(fakeWebGpu(LAVAPIPE));
    try {
      const auto = await selectBackend('auto', importer);
      expect(auto.selected).toBe('wasm');
      expect(auto.skippedWebGpu).toMatch(/only WebGPU adapter is a CPU implementation \(llvmpipe: Mesa 25\.0\.7\).*ask for backend "webgpu" explicitly/);
      const explicit = await selectBackend('webgpu', importer);
      expect(explicit.selected).toBe('webgpu');
      expect(explicit.adapter!.software).toBe(true);
      expect(describeBackend(explicit)).toBe('webgpu (llvmpipe: Mesa 25.0.7, software, max storage binding 128 MiB)');
    } finally {
      releaseWebGpu();
      await selectBackend('wasm');
    }
  });

  it('no adapter: explicit webgpu fails with the driver hint, auto falls back to wasm', async () => {
    const importer = importerWith(fakeWebGpu(null));
    await expect(selectBackend('webgpu', importer)).rejects.toThrow(/backend "webgpu": no WebGPU adapter found.*apt-get install libvulkan1.*mesa-vulkan-drivers.*bookworm-backports/);
    expect((await selectBackend('auto', importer)).skippedWebGpu).toMatch(/no WebGPU adapter found/);
    const missing = async (name: string) => {
      if (name === 'webgpu') throw new Error("Cannot find package 'webgpu'");
      return importerWith(null)(name);
    };
    await expect(selectBackend('webgpu', missing)).rejects.toThrow(/optional package "webgpu" could not be loaded.*npm install webgpu @tensorflow\/tfjs-backend-webgpu/);
  });

  it('assertFitsWebGpu names the tensor and the limit, only while webgpu runs', async () => {
    assertFitsWebGpu('transformer.wte.weight', [50257, 768]); // wasm: no limit to check
    try {
      await selectBackend('webgpu', importerWith(fakeWebGpu(LAVAPIPE)));
      assertFitsWebGpu('transformer.h.0.attn.c_attn.weight', [768, 2304]); // 6.75 MiB
      assertFitsWebGpu('exactly the limit', [2 ** 25]);
      expect(() => assertFitsWebGpu('transformer.wte.weight', [50257, 768])).toThrow(
        'webgpu: tensor "transformer.wte.weight" [50257, 768] float32 is 147.2 MiB, larger than this adapter\'s maxStorageBufferBindingSize of 128.0 MiB (llvmpipe: Mesa 25.0.7)',
      );
      expect(() => assertFitsWebGpu('one over', [2 ** 25 + 1])).toThrow(/"one over"/);
    } finally {
      releaseWebGpu();
      await selectBackend('wasm');
    }
  });
});

// On a machine with a Vulkan driver (CI installs Mesa 25 lavapipe) this runs the real dawn.node.
const probe = await probeWebGpu();
describe.skipIf(!probe.available)(`webgpu on this machine's adapter${probe.available ? '' : ` (skipped: ${probe.reason})`}`, () => {
  it('explicit webgpu runs a matmul equal to the cpu backend; auto never picks a software adapter', async () => {
    const tf = await import('@tensorflow/tfjs');
    const a = [1.5, -2, 0.25, 3, 4, -1];
    const b = [2, 0.5, -1, 1, 0.125, -3];
    await selectBackend('cpu');
    const want = await tf.matMul(tf.tensor2d(a, [2, 3]), tf.tensor2d(b, [3, 2])).data();
    try {
      const info = await selectBackend('webgpu');
      expect(info.tfBackend).toBe('webgpu');
      expect(info.adapter!.maxStorageBufferBindingSize).toBeGreaterThan(0);
      const got = await tf.matMul(tf.tensor2d(a, [2, 3]), tf.tensor2d(b, [3, 2])).data();
      expect(Array.from(got)).toEqual(Array.from(want));
      // Node has no synchronous GPU readback: a clear error instead of "OffscreenCanvas is not defined".
      expect(Array.from(tf.tensor1d([1, 2]).dataSync())).toEqual([1, 2]); // still on the CPU side
      expect(() => tf.matMul(tf.tensor2d(a, [2, 3]), tf.tensor2d(b, [3, 2])).dataSync()).toThrow(/synchronous read of a GPU tensor .* not possible in Node.*await tensor\.data\(\)/);
      // addN over more inputs than a shader may bind (8 storage buffers on lavapipe): 20 tensors, exact sum.
      const many = Array.from({ length: 20 }, (_, i) => tf.tensor1d([i, -2 * i, 0.5]));
      expect(Array.from(await tf.addN(many).data())).toEqual([190, -380, 10]);
      const auto = await selectBackend('auto');
      expect(auto.selected).toBe(info.adapter!.software ? 'wasm' : 'webgpu');
    } finally {
      releaseWebGpu();
      await selectBackend('wasm');
    }
  });
});
