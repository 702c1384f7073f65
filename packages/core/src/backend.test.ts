import { describe, expect, it } from 'vitest';
import { selectBackend } from './backend.js';

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
    expect(tried).toEqual(['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node', '@tensorflow/tfjs-backend-wasm']);

    // Simulate an installed tfjs-node-gpu: importing it registers the "tensorflow" backend.
    const tf = await import('@tensorflow/tfjs');
    const gpuInstalled = async (name: string) => {
      if (name === '@tensorflow/tfjs-node-gpu') tf.registerBackend('tensorflow', tf.findBackendFactory('cpu')!);
      else throw new Error('unexpected import');
    };
    try {
      const info = await selectBackend('auto', gpuInstalled);
      expect(info).toEqual({ requested: 'auto', selected: 'tensorflow-gpu', tfBackend: 'tensorflow' });
      expect(tf.getBackend()).toBe('tensorflow');
    } finally {
      tf.removeBackend('tensorflow');
      await selectBackend('wasm');
    }
  });

  it('cpu is selectable and unknown names are rejected', async () => {
    expect((await selectBackend('cpu')).tfBackend).toBe('cpu');
    await expect(selectBackend('webgpu' as never)).rejects.toThrow(/unknown backend "webgpu", expected one of auto, tensorflow-gpu, tensorflow, wasm, cpu/);
  });
});
