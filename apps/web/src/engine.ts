/**
 * Which ONNX Runtime Web execution provider the page uses, from the `engine` URL parameter and
 * what the browser's WebGPU offers. No silent fallback: every choice comes with the sentence the
 * page shows about it.
 */

/** The `engine` URL parameter: `auto` (default) takes WebGPU on a hardware adapter, else WebAssembly. */
export type EngineRequest = 'auto' | 'webgpu' | 'wasm';
export type Engine = 'webgpu' | 'wasm';

export const ENGINE_REQUESTS: readonly EngineRequest[] = ['auto', 'webgpu', 'wasm'];

/** The `engine` parameter; an unknown value is an error message (the page then uses `auto`). */
export function parseEngine(value: string | null): { request: EngineRequest; error: string | null } {
  if (value === null || value === '') return { request: 'auto', error: null };
  if ((ENGINE_REQUESTS as readonly string[]).includes(value)) return { request: value as EngineRequest, error: null };
  return { request: 'auto', error: `Unknown engine=${JSON.stringify(value)} in the URL (expected ${ENGINE_REQUESTS.join(', ')}); using auto.` };
}

/** The parts of the WebGPU API the probe reads (navigator.gpu, GPUAdapter, GPUAdapterInfo). */
export interface GpuLike {
  requestAdapter(): Promise<GpuAdapterLike | null>;
}
export interface GpuAdapterLike {
  info?: { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean };
  /** Older Chromium: on the adapter itself. */
  isFallbackAdapter?: boolean;
}

export type WebGpuProbe =
  | { available: false; reason: string }
  | { available: true; name: string; fallback: boolean };

/** Asks the browser for a WebGPU adapter; says why there is none. */
export async function probeWebGpu(gpu: GpuLike | undefined = (globalThis as { navigator?: { gpu?: GpuLike } }).navigator?.gpu): Promise<WebGpuProbe> {
  if (!gpu) return { available: false, reason: 'this browser has no WebGPU (navigator.gpu is missing; it needs a secure context: https or localhost)' };
  let adapter: GpuAdapterLike | null;
  try {
    adapter = await gpu.requestAdapter();
  } catch (err) {
    return { available: false, reason: `navigator.gpu.requestAdapter() failed: ${(err as Error).message}` };
  }
  if (!adapter) return { available: false, reason: 'navigator.gpu offers no adapter (no usable GPU, or WebGPU is disabled)' };
  const info = adapter.info ?? {};
  const fallback = info.isFallbackAdapter ?? adapter.isFallbackAdapter ?? false;
  const name = [info.vendor, info.architecture, info.device, info.description].filter((s) => s).join(' ') || 'unnamed adapter';
  return { available: true, name, fallback };
}

export interface EngineChoice {
  engine: Engine;
  /** What the page says about the choice. */
  note: string;
  /** The user asked for WebGPU and does not get it: shown as an error, not only as a note. */
  refused: boolean;
}

/**
 * auto: WebGPU on a hardware adapter; a software (fallback) adapter such as SwiftShader is slower
 * than WebAssembly, so auto keeps WebAssembly there. webgpu: any adapter, software included.
 * ONNX Runtime then asks for the default adapter itself (the one probed here).
 */
export function chooseEngine(request: EngineRequest, probe: WebGpuProbe): EngineChoice {
  const wasm = (note: string, refused = false): EngineChoice => ({ engine: 'wasm', note, refused });
  if (request === 'wasm') return wasm('WebAssembly (engine=wasm)');
  if (!probe.available) {
    return request === 'webgpu'
      ? wasm(`WebAssembly: WebGPU was asked for (engine=webgpu) but ${probe.reason}`, true)
      : wasm(`WebAssembly: WebGPU not used, ${probe.reason}`);
  }
  const adapterName = `${probe.name}${probe.fallback ? ', a software fallback adapter' : ''}`;
  if (request === 'auto' && probe.fallback) return wasm(`WebAssembly: the only WebGPU adapter is a software one (${adapterName}); engine=webgpu uses it anyway`);
  return { engine: 'webgpu', note: `WebGPU (${adapterName})`, refused: false };
}
