import * as tf from '@tensorflow/tfjs';

/**
 * WebGPU in Node through the optional `webgpu` package (Dawn's dawn.node, shipped inside the npm
 * package: no download, no CUDA toolkit) and `@tensorflow/tfjs-backend-webgpu`. Dawn needs a Vulkan
 * driver (any GPU vendor's, or Mesa >= 25 lavapipe for a CPU-only test machine) and the Vulkan loader.
 */

/** What the WebGPU adapter says about itself, plus the limits that decide which models fit. */
export interface WebGpuAdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** The adapter is a fallback (software) adapter by WebGPU's own flag. */
  isFallbackAdapter: boolean;
  /** A CPU implementation (lavapipe / llvmpipe / SwiftShader, or a fallback adapter): fine for tests, not for speed. */
  software: boolean;
  /** Largest single storage buffer a kernel can bind, in bytes: the largest tensor that fits. */
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
}

export type WebGpuProbe = { available: true; info: WebGpuAdapterInfo } | { available: false; reason: string };

/** Importer used to load optional packages; tests replace it to simulate installed packages. */
export type ModuleImporter = (specifier: string) => Promise<unknown>;

export const defaultImporter: ModuleImporter = (specifier) => import(specifier);

/** The apt packages (Debian/Ubuntu) that give Dawn a Vulkan device; printed in the no-adapter error. */
export const WEBGPU_DRIVER_HINT =
  'Dawn needs the Vulkan loader and a Vulkan driver. On Debian/Ubuntu: `apt-get install libvulkan1` plus the GPU\'s driver ' +
  '(NVIDIA: the proprietary driver with its Vulkan ICD, e.g. `nvidia-driver` / `libnvidia-gl-<version>`; AMD and Intel: `mesa-vulkan-drivers`). ' +
  'Without a GPU, for tests only: Mesa >= 25 lavapipe (Debian bookworm: `apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1`, ' +
  'see tools/gpu/install-lavapipe.sh); bookworm\'s own Mesa 22.3 lavapipe is refused by Dawn.';

interface GpuAdapterLike {
  info?: Record<string, unknown>;
  isFallbackAdapter?: boolean;
  limits: { maxStorageBufferBindingSize: number; maxBufferSize: number };
}
interface GpuLike {
  requestAdapter(options?: { powerPreference?: string }): Promise<GpuAdapterLike | null>;
}
interface WebGpuModule {
  create(flags: string[]): GpuLike;
  globals?: Record<string, unknown>;
}

const SOFTWARE_NAMES = /llvmpipe|lavapipe|swiftshader|software rasterizer/i;

/** Reads the adapter's info and limits and classifies it as hardware or software. */
export function describeAdapter(adapter: GpuAdapterLike): WebGpuAdapterInfo {
  const info = adapter.info ?? {};
  const text = (key: string) => (typeof info[key] === 'string' ? (info[key] as string) : '');
  const isFallbackAdapter = info.isFallbackAdapter === true || adapter.isFallbackAdapter === true;
  const architecture = text('architecture');
  const names = [text('vendor'), architecture, text('device'), text('description')].join(' ');
  return {
    vendor: text('vendor'),
    architecture,
    device: text('device'),
    description: text('description'),
    isFallbackAdapter,
    software: isFallbackAdapter || architecture === 'software' || SOFTWARE_NAMES.test(names),
    maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
    maxBufferSize: adapter.limits.maxBufferSize,
  };
}

/** Dawn toggles from `MATS_DAWN_FLAGS` (comma-separated, e.g. `backend=vulkan`), passed to `create()`. */
function dawnFlags(): string[] {
  return (process.env.MATS_DAWN_FLAGS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

interface Opened {
  gpu: GpuLike;
  globals: Record<string, unknown>;
  info: WebGpuAdapterInfo;
}

async function openWebGpu(importer: ModuleImporter): Promise<Opened | { reason: string }> {
  let mod: WebGpuModule;
  try {
    mod = (await importer('webgpu')) as WebGpuModule;
  } catch (err) {
    return { reason: `the optional package "webgpu" could not be loaded (${(err as Error).message.split('\n')[0]}); install it with \`npm install webgpu @tensorflow/tfjs-backend-webgpu\`` };
  }
  if (typeof mod?.create !== 'function') return { reason: 'the package "webgpu" has no create() export (expected webgpu 0.6.x)' };
  let adapter: GpuAdapterLike | null;
  let gpu: GpuLike;
  try {
    gpu = mod.create(dawnFlags());
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (err) {
    return { reason: `requestAdapter failed: ${(err as Error).message.split('\n')[0]}. ${WEBGPU_DRIVER_HINT}` };
  }
  if (!adapter) return { reason: `no WebGPU adapter found (Dawn found no usable Vulkan device). ${WEBGPU_DRIVER_HINT}` };
  return { gpu, globals: mod.globals ?? {}, info: describeAdapter(adapter) };
}

/**
 * Looks for a WebGPU adapter without selecting any backend. Tests use it to skip their webgpu
 * cases with the reason (`probe.available ? ... : probe.reason`).
 */
export async function probeWebGpu(importer: ModuleImporter = defaultImporter): Promise<WebGpuProbe> {
  const opened = await openWebGpu(importer);
  return 'reason' in opened ? { available: false, reason: opened.reason } : { available: true, info: opened.info };
}

/** The navigator property as it was before we installed `navigator.gpu`, to restore it on release. */
let savedNavigator: PropertyDescriptor | undefined | null = null;
let active: WebGpuAdapterInfo | null = null;
/** The backend factory tfjs-backend-webgpu registered at import; kept to register again after a release (an ES module imports once). */
let registeredFactory: ReturnType<typeof tf.findBackendFactory> | null = null;

/**
 * Installs `navigator.gpu` (and the WebGPU constants such as GPUBufferUsage) from dawn.node, then
 * imports `@tensorflow/tfjs-backend-webgpu`, which registers the `webgpu` backend only when it
 * finds `navigator.gpu` at import time. Returns the adapter, or the reason none is usable.
 */
export async function installWebGpu(
  importer: ModuleImporter,
  options: { allowSoftware: boolean },
): Promise<{ info: WebGpuAdapterInfo } | { reason: string }> {
  if (active && tf.findBackendFactory('webgpu')) {
    if (active.software && !options.allowSoftware) return { reason: softwareReason(active) };
    return { info: active };
  }
  const opened = await openWebGpu(importer);
  if ('reason' in opened) return opened;
  if (opened.info.software && !options.allowSoftware) return { reason: softwareReason(opened.info) };

  for (const [name, value] of Object.entries(opened.globals)) {
    if (!(name in globalThis)) Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
  }
  if (savedNavigator === null) savedNavigator = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
  const existing = (globalThis as { navigator?: object }).navigator;
  // Keep what Node's own navigator offers (userAgent, hardwareConcurrency...) and add gpu.
  const navigator = Object.create(existing ?? null, { gpu: { value: opened.gpu, enumerable: true, configurable: true } });
  Object.defineProperty(globalThis, 'navigator', { value: navigator, configurable: true, writable: true });

  try {
    await importer('@tensorflow/tfjs-backend-webgpu');
  } catch (err) {
    releaseWebGpu();
    return { reason: `the optional package "@tensorflow/tfjs-backend-webgpu" could not be loaded (${(err as Error).message.split('\n')[0]}); install it with \`npm install @tensorflow/tfjs-backend-webgpu\`` };
  }
  if (!tf.findBackendFactory('webgpu') && registeredFactory) tf.registerBackend('webgpu', registeredFactory);
  const factory = tf.findBackendFactory('webgpu');
  if (!factory) {
    releaseWebGpu();
    return { reason: '@tensorflow/tfjs-backend-webgpu did not register the "webgpu" backend: it was imported before navigator.gpu was set (import it only through selectBackend)' };
  }
  chunkAddN();
  if (!guardedFactories.has(factory)) {
    tf.removeBackend('webgpu');
    const guarded = async () => guardSyncReads((await factory()) as SyncReadingBackend);
    guardedFactories.add(guarded);
    tf.registerBackend('webgpu', guarded);
  }
  active = opened.info;
  return { info: opened.info };
}

const guardedFactories = new WeakSet<object>();
let addNChunked = false;

/**
 * tfjs-webgpu's AddN binds every input in one shader; past the device's
 * maxStorageBuffersPerShaderStage (8 on many adapters) Dawn rejects the pipeline and the sum is
 * silently wrong (tf.addN over a model's gradients hits this). Concat already splits its inputs;
 * this makes AddN do the same: partial sums of at most limit - 1 inputs, then their sum.
 */
function chunkAddN(): void {
  if (addNChunked) return;
  const original = tf.getKernel('AddN', 'webgpu');
  if (!original) return;
  addNChunked = true;
  type Args = Parameters<typeof original.kernelFunc>[0];
  const kernelFunc = (args: Args): tf.TensorInfo => {
    const inputs = args.inputs as unknown as tf.TensorInfo[];
    const backend = args.backend as unknown as { device: { limits: { maxStorageBuffersPerShaderStage: number } }; disposeData(id: object): void };
    const max = Math.max(2, backend.device.limits.maxStorageBuffersPerShaderStage - 1);
    if (inputs.length <= max) return original.kernelFunc(args) as tf.TensorInfo;
    const partials: tf.TensorInfo[] = [];
    for (let i = 0; i < inputs.length; i += max) {
      const group = inputs.slice(i, i + max);
      partials.push(group.length === 1 ? group[0] : (original.kernelFunc({ ...args, inputs: group as unknown as Args['inputs'] }) as tf.TensorInfo));
    }
    const sum = kernelFunc({ ...args, inputs: partials as unknown as Args['inputs'] });
    for (const p of partials) if (!inputs.includes(p)) backend.disposeData(p.dataId);
    return sum;
  };
  tf.unregisterKernel('AddN', 'webgpu');
  tf.registerKernel({ ...original, kernelFunc: kernelFunc as typeof original.kernelFunc });
}

interface SyncReadingBackend extends tf.KernelBackend {
  tensorMap: { get(dataId: object): { values?: unknown; dtype: string } | undefined };
}

/**
 * tfjs-webgpu reads a GPU tensor synchronously (dataSync, arraySync) through OffscreenCanvas, which
 * Node does not have: the error would be "OffscreenCanvas is not defined". Values still held on the
 * CPU are returned as before; a GPU-resident tensor gets an error that says what to do instead.
 */
function guardSyncReads(backend: SyncReadingBackend): SyncReadingBackend {
  if (typeof backend.tensorMap?.get !== 'function') return backend; // not tfjs-webgpu's backend (tests)
  const readSync = backend.readSync.bind(backend);
  backend.readSync = (dataId: object) => {
    const data = backend.tensorMap.get(dataId);
    if (!data || data.values != null || data.dtype === 'string' || typeof (globalThis as { OffscreenCanvas?: unknown }).OffscreenCanvas !== 'undefined') return readSync(dataId);
    throw new Error(
      'webgpu: a synchronous read of a GPU tensor (dataSync / arraySync / bufferSync) is not possible in Node ' +
        '(tfjs-webgpu needs OffscreenCanvas for it); read with `await tensor.data()` instead',
    );
  };
  return backend;
}

function softwareReason(info: WebGpuAdapterInfo): string {
  return `the only WebGPU adapter is a CPU implementation (${adapterName(info)}), slower than wasm; ask for backend "webgpu" explicitly to use it anyway`;
}

/** A short human-readable adapter name: description, else vendor/device. */
export function adapterName(info: WebGpuAdapterInfo): string {
  return info.description || [info.vendor, info.architecture, info.device].filter(Boolean).join(' ') || 'unnamed adapter';
}

/**
 * Removes the `webgpu` tfjs backend and the `navigator.gpu` we installed, so Node can exit and a
 * later selectBackend starts clean. Safe to call when webgpu was never selected.
 */
export function releaseWebGpu(): void {
  const factory = tf.findBackendFactory('webgpu');
  if (factory) {
    registeredFactory = factory;
    // Disposes the backend (and its device); when it was the active one tfjs picks another on the next op.
    tf.removeBackend('webgpu');
  }
  if (savedNavigator !== null) {
    if (savedNavigator) Object.defineProperty(globalThis, 'navigator', savedNavigator);
    else delete (globalThis as { navigator?: unknown }).navigator;
    savedNavigator = null;
  }
  active = null;
}

/** The adapter of the running `webgpu` backend, or null when another backend runs. */
export function activeWebGpu(): WebGpuAdapterInfo | null {
  return tf.getBackend() === 'webgpu' ? active : null;
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 4, complex64: 8 };

/**
 * Refuses a tensor that a WebGPU kernel could not bind: larger than the adapter's
 * `maxStorageBufferBindingSize` (128 MiB on lavapipe). Without this check Dawn reports a
 * validation error asynchronously and the results are garbage. Does nothing on other backends.
 * Call it with the tensor's name where weights are uploaded.
 */
export function assertFitsWebGpu(name: string, shape: readonly number[], dtype: keyof typeof BYTES = 'float32'): void {
  const info = activeWebGpu();
  if (!info) return;
  const bytes = shape.reduce((a, b) => a * b, 1) * BYTES[dtype];
  if (bytes > info.maxStorageBufferBindingSize) {
    const mib = (n: number) => (n / 2 ** 20).toFixed(1);
    throw new Error(
      `webgpu: tensor "${name}" [${shape.join(', ')}] ${dtype} is ${mib(bytes)} MiB, larger than this adapter's ` +
        `maxStorageBufferBindingSize of ${mib(info.maxStorageBufferBindingSize)} MiB (${adapterName(info)}); ` +
        'use a smaller model, a GPU with a larger limit, or another backend',
    );
  }
}
