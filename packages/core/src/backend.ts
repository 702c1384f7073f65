import * as tf from '@tensorflow/tfjs';
import { type ModuleImporter, type WebGpuAdapterInfo, adapterName, defaultImporter, installWebGpu } from './webgpu.js';
import { installContiguousWasmSlice } from './wasm-slice.js';
import { type WasmThreadsModule, initWasmThreads } from './wasm-threads.js';

export type { ModuleImporter } from './webgpu.js';

/** Which tfjs backend to run on. `auto` takes the fastest one that is installed. */
export type BackendName = 'auto' | 'tensorflow-gpu' | 'webgpu' | 'tensorflow' | 'wasm' | 'cpu';

export const BACKEND_NAMES: readonly BackendName[] = ['auto', 'tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu'];

/** The npm package each optional native backend needs. */
const NATIVE_PACKAGES = {
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
  tensorflow: '@tensorflow/tfjs-node',
} as const;

export interface BackendInfo {
  /** What was asked for. */
  requested: BackendName;
  /** What runs: one of the concrete names. */
  selected: Exclude<BackendName, 'auto'>;
  /** The tfjs backend id (`tensorflow`, `webgpu`, `wasm`, `cpu`). */
  tfBackend: string;
  /** The WebGPU adapter (name, software or not, buffer limits) when `webgpu` runs. */
  adapter?: WebGpuAdapterInfo;
  /** Why `auto` passed over webgpu (no adapter, only a CPU adapter, package missing), when it did. */
  skippedWebGpu?: string;
  /** XNNPACK threads of the wasm backend (1: the single-threaded build), when wasm runs. */
  threads?: number;
}

export interface SelectBackendOptions {
  /** Loads optional packages (tests pass their own). */
  importer?: ModuleImporter;
  /**
   * Threads for the wasm backend's matrix products and convolutions (XNNPACK's pool on
   * node:worker_threads, the threaded SIMD build of tfjs-wasm); 1 is the single-threaded build. The
   * first wasm initialisation of a process fixes it (unset there: 1); later, unset takes what runs and
   * another count is an error. Same values as one thread, bit for bit. Ignored by the other backends.
   */
  wasmThreads?: number;
}

/** One line describing the selection, for logs: `webgpu (NVIDIA H200, max binding 4096 MiB)`. */
export function describeBackend(info: BackendInfo): string {
  if (!info.adapter) return info.threads && info.threads > 1 ? `${info.selected} (${info.threads} threads)` : info.selected;
  const a = info.adapter;
  return `${info.selected} (${adapterName(a)}${a.software ? ', software' : ''}, max storage binding ${Math.round(a.maxStorageBufferBindingSize / 2 ** 20)} MiB)`;
}

/**
 * Selects and initialises the tfjs backend. The native packages are optional peer dependencies
 * (their install downloads libtensorflow, which offline machines cannot do); webgpu comes from the
 * optional dependencies `webgpu` (dawn.node) and `@tensorflow/tfjs-backend-webgpu`. `auto` tries
 * tfjs-node-gpu, then webgpu on a hardware adapter (never a CPU adapter such as lavapipe), then
 * tfjs-node, then wasm. Asking explicitly for a backend that is not usable is an error naming what
 * to install - never a silent switch to a slower backend. Explicit `webgpu` accepts a CPU adapter.
 */
export async function selectBackend(requested: BackendName = 'auto', options: SelectBackendOptions | ModuleImporter = {}): Promise<BackendInfo> {
  const { importer = defaultImporter, wasmThreads } = typeof options === 'function' ? { importer: options } : options;
  if (wasmThreads !== undefined && (!Number.isInteger(wasmThreads) || wasmThreads < 1 || wasmThreads > 8)) {
    throw new Error(`wasmThreads: expected an integer from 1 to 8, got ${JSON.stringify(wasmThreads)}`);
  }
  if (!BACKEND_NAMES.includes(requested)) {
    throw new Error(`backend: unknown backend ${JSON.stringify(requested)}, expected one of ${BACKEND_NAMES.join(', ')}`);
  }
  if (requested === 'auto') {
    if (await tryImport(NATIVE_PACKAGES['tensorflow-gpu'], importer)) return activate(requested, 'tensorflow-gpu', 'tensorflow');
    const webgpu = await installWebGpu(importer, { allowSoftware: false });
    if ('info' in webgpu) return { ...(await activate(requested, 'webgpu', 'webgpu')), adapter: webgpu.info };
    if (await tryImport(NATIVE_PACKAGES.tensorflow, importer)) return { ...(await activate(requested, 'tensorflow', 'tensorflow')), skippedWebGpu: webgpu.reason };
    return { ...(await activateWasm(requested, importer, wasmThreads)), skippedWebGpu: webgpu.reason };
  }
  if (requested === 'webgpu') {
    const webgpu = await installWebGpu(importer, { allowSoftware: true });
    if ('reason' in webgpu) throw new Error(`backend "webgpu": ${webgpu.reason}`);
    return { ...(await activate(requested, 'webgpu', 'webgpu')), adapter: webgpu.info };
  }
  if (requested === 'tensorflow-gpu' || requested === 'tensorflow') {
    const pkg = NATIVE_PACKAGES[requested];
    const error = await importError(pkg, importer);
    if (error) {
      throw new Error(
        `backend "${requested}" needs the optional package ${pkg}, which could not be loaded (${error}). ` +
          `Install it with \`npm install ${pkg}\` (it downloads libtensorflow at install time), or use backend "wasm".`,
      );
    }
    return activate(requested, requested, 'tensorflow');
  }
  if (requested === 'wasm') return activateWasm(requested, importer, wasmThreads);
  return activate(requested, 'cpu', 'cpu');
}

async function activate(requested: BackendName, selected: BackendInfo['selected'], tfBackend: string): Promise<BackendInfo> {
  const ok = await tf.setBackend(tfBackend);
  if (!ok) throw new Error(`backend "${selected}": tfjs could not initialise the "${tfBackend}" backend`);
  await tf.ready();
  return { requested, selected, tfBackend };
}

/** The thread count the wasm backend was initialised with in this process (null: not yet). */
let wasmThreadsRunning: number | null = null;

async function activateWasm(requested: BackendName, importer: ModuleImporter, threads: number | undefined): Promise<BackendInfo> {
  const wasm = (await importer('@tensorflow/tfjs-backend-wasm')) as WasmThreadsModule;
  if (wasmThreadsRunning === null && threads !== undefined && threads > 1) {
    wasmThreadsRunning = await initWasmThreads(wasm, threads);
  }
  const info = await activate(requested, 'wasm', 'wasm');
  wasmThreadsRunning ??= wasm.getThreadsCount();
  if (threads !== undefined && wasmThreadsRunning !== threads) {
    throw new Error(
      `wasmThreads: the wasm backend of this process already runs ${wasmThreadsRunning} thread(s), asked for ${threads} ` +
        '(the first initialisation fixes the count)',
    );
  }
  installContiguousWasmSlice();
  return { ...info, threads: wasmThreadsRunning };
}

async function importError(specifier: string, importer: ModuleImporter): Promise<string | null> {
  try {
    await importer(specifier);
    return null;
  } catch (err) {
    return (err as Error).message.split('\n')[0];
  }
}

async function tryImport(specifier: string, importer: ModuleImporter): Promise<boolean> {
  return (await importError(specifier, importer)) === null;
}

/** Parses a backend name from config or the command line, with a clear error. */
export function parseBackendName(value: string, source = 'backend'): BackendName {
  if (!(BACKEND_NAMES as readonly string[]).includes(value)) {
    throw new Error(`${source}: unknown backend ${JSON.stringify(value)}, expected one of ${BACKEND_NAMES.join(', ')}`);
  }
  return value as BackendName;
}
