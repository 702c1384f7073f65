import { describe, expect, it } from 'vitest';
import { ONNXRUNTIME_MISSING, loadOnnxRuntime } from './ort.js';

describe('onnxruntime-node is an optional peer, imported on first use', () => {
  it('a missing package says how to install it', async () => {
    const missing = async () => {
      throw Object.assign(new Error("Cannot find package 'onnxruntime-node'"), { code: 'ERR_MODULE_NOT_FOUND' });
    };
    await expect(loadOnnxRuntime(missing)).rejects.toThrow(ONNXRUNTIME_MISSING);
    expect(ONNXRUNTIME_MISSING).toContain('npm install onnxruntime-node');
  });

  it('a package that fails to load is a different error, with its message', async () => {
    const broken = async () => {
      throw new Error('libonnxruntime.so.1: cannot open shared object file');
    };
    await expect(loadOnnxRuntime(broken)).rejects.toThrow('onnxruntime-node is installed but cannot be loaded: libonnxruntime.so.1: cannot open shared object file');
  });

  it('the installed package loads (the development checkout has it as a dev dependency)', async () => {
    const ort = await loadOnnxRuntime();
    expect(typeof ort.InferenceSession.create).toBe('function');
    expect(await loadOnnxRuntime()).toBe(ort);
  });
});
