import { describe, expect, it } from 'vitest';
import { chooseEngine, parseEngine, probeWebGpu, type GpuAdapterLike, type WebGpuProbe } from './engine.js';

const gpu = (adapter: GpuAdapterLike | null | Error) => ({
  requestAdapter: async () => {
    if (adapter instanceof Error) throw adapter;
    return adapter;
  },
});

describe('parseEngine', () => {
  it('defaults to auto; accepts auto, webgpu, wasm; an unknown value is an error naming the choices', () => {
    expect(parseEngine(null)).toEqual({ request: 'auto', error: null });
    expect(parseEngine('')).toEqual({ request: 'auto', error: null });
    expect(parseEngine('webgpu')).toEqual({ request: 'webgpu', error: null });
    expect(parseEngine('wasm')).toEqual({ request: 'wasm', error: null });
    expect(parseEngine('gpu')).toEqual({ request: 'auto', error: 'Unknown engine="gpu" in the URL (expected auto, webgpu, wasm); using auto.' });
  });
});

describe('probeWebGpu', () => {
  it('no navigator.gpu (Node has none), no adapter, a failing request: each with its reason', async () => {
    expect(await probeWebGpu()).toEqual({ available: false, reason: expect.stringMatching(/navigator\.gpu is missing/) });
    expect(await probeWebGpu(gpu(null))).toEqual({ available: false, reason: expect.stringMatching(/offers no adapter/) });
    expect(await probeWebGpu(gpu(new Error('GPU process crashed')))).toEqual({ available: false, reason: 'navigator.gpu.requestAdapter() failed: GPU process crashed' });
  });

  it('names the adapter and reads isFallbackAdapter from info (current) or the adapter (older Chromium)', async () => {
    expect(await probeWebGpu(gpu({ info: { vendor: 'google', architecture: 'swiftshader', device: '', description: '', isFallbackAdapter: true } }))).toEqual({
      available: true,
      name: 'google swiftshader',
      fallback: true,
    });
    expect(await probeWebGpu(gpu({ info: { vendor: 'nvidia', architecture: 'ada' } }))).toEqual({ available: true, name: 'nvidia ada', fallback: false });
    expect(await probeWebGpu(gpu({ isFallbackAdapter: true }))).toEqual({ available: true, name: 'unnamed adapter', fallback: true });
  });
});

describe('chooseEngine', () => {
  const none: WebGpuProbe = { available: false, reason: 'navigator.gpu offers no adapter' };
  const hardware: WebGpuProbe = { available: true, name: 'nvidia ada', fallback: false };
  const software: WebGpuProbe = { available: true, name: 'google swiftshader', fallback: true };

  it('auto: WebGPU on a hardware adapter only; WebAssembly otherwise, saying why (not refused: nothing was asked)', () => {
    expect(chooseEngine('auto', hardware)).toEqual({ engine: 'webgpu', note: 'WebGPU (nvidia ada)', refused: false });
    expect(chooseEngine('auto', software)).toEqual({
      engine: 'wasm',
      note: 'WebAssembly: the only WebGPU adapter is a software one (google swiftshader, a software fallback adapter); engine=webgpu uses it anyway',
      refused: false,
    });
    expect(chooseEngine('auto', none)).toEqual({ engine: 'wasm', note: 'WebAssembly: WebGPU not used, navigator.gpu offers no adapter', refused: false });
  });

  it('webgpu: any adapter, software included; without one it is refused (the page shows a notice)', () => {
    expect(chooseEngine('webgpu', software)).toEqual({ engine: 'webgpu', note: 'WebGPU (google swiftshader, a software fallback adapter)', refused: false });
    expect(chooseEngine('webgpu', none)).toEqual({ engine: 'wasm', note: 'WebAssembly: WebGPU was asked for (engine=webgpu) but navigator.gpu offers no adapter', refused: true });
  });

  it('wasm: WebAssembly whatever the browser offers', () => {
    expect(chooseEngine('wasm', hardware)).toEqual({ engine: 'wasm', note: 'WebAssembly (engine=wasm)', refused: false });
  });
});
