import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';

/**
 * tfjs-wasm's threaded build (XNNPACK's thread pool on Emscripten pthreads) in Node.
 *
 * The package ships `tfjs-backend-wasm-threaded-simd.wasm`, and its Emscripten loader runs
 * pthreads on node:worker_threads, but three things keep it single-threaded in Node:
 * 1. The loader hands each pthread worker its script as a `blob:` URL (the worker script and the
 *    main script both built in memory as Blobs); node:worker_threads only starts files, and the
 *    worker's `importScripts` reads a file path.
 * 2. The main script is the factory function's source text; in the Node bundle that text refers to
 *    the bundle's module-scope `require$$N` (fs, path, perf_hooks, os) and `commonjsGlobal`, which
 *    the worker's global scope does not have.
 * 3. The C side caps the pool at `emscripten_num_logical_cores() / 2` (it halves for hyper-threads),
 *    and in Node that count is `os.cpus().length`: 1 thread on a 2-core machine whatever is asked.
 *
 * `initWasmThreads` works around the three while tfjs initialises the wasm backend: Blobs made of
 * strings are written to files in a private temporary folder (the worker script gets a one-line
 * prelude that points its `URL.createObjectURL` at the main script's file, with the bundle's
 * module-scope names defined), and `os.cpus()` reports twice the asked threads during the
 * initialisation only. The temporary folder is removed when the initialisation ends (the pool's
 * workers have loaded their scripts by then and keep the code in memory). Threads change speed, not results: XNNPACK splits work
 * by output tiles, never a sum, so every value is the same bit for bit as on one thread (tested in
 * wasm-threads.test.ts across processes).
 */

/** The Node bundle's module-scope names that the factory's source text uses. */
const BUNDLE_SCOPE =
  "var require$$0=require('fs'),require$$1=require('path'),require$$3=require('perf_hooks'),require$$4=require('os'),commonjsGlobal=globalThis;";

type BlobPart = ConstructorParameters<typeof Blob>[0] extends (infer P)[] | undefined ? P : never;

/** What the package `@tensorflow/tfjs-backend-wasm` exports that the thread setup uses. */
export interface WasmThreadsModule {
  setThreadsCount(n: number): void;
  getThreadsCount(): number;
}

interface PThreadPool {
  unusedWorkers: { unref(): void }[];
  runningWorkers: { unref(): void }[];
}

/**
 * Initialises tfjs's wasm backend with `threads` XNNPACK threads (`threads` >= 2) and returns the
 * thread count the backend reports. Must run before the wasm backend is first initialised in this
 * process (tfjs initialises it once); throws, naming what was got, when the backend does not come
 * up threaded.
 */
export async function initWasmThreads(wasm: WasmThreadsModule, threads: number): Promise<number> {
  if (!Number.isInteger(threads) || threads < 2) throw new Error(`wasmThreads: expected an integer >= 2, got ${threads}`);
  if (typeof SharedArrayBuffer === 'undefined') throw new Error('wasmThreads: this runtime has no SharedArrayBuffer, which pthreads need');
  const dir = mkdtempSync(join(os.tmpdir(), 'mats-wasm-threads-'));
  const NativeBlob = globalThis.Blob;
  const nativeCreateObjectURL = URL.createObjectURL;
  const nativeCpus = os.cpus;
  const texts = new WeakMap<Blob, string>();
  let mainScript: string | null = null;
  let files = 0;
  globalThis.Blob = class extends NativeBlob {
    constructor(parts?: BlobPart[], options?: { type?: string }) {
      super(parts as BlobPart[], options);
      if (!parts || !parts.every((p) => typeof p === 'string')) return;
      const text = (parts as string[]).join('');
      texts.set(this, text);
      if (text.startsWith('var WasmBackendModuleThreadedSimd')) {
        mainScript = join(dir, 'main.js');
        writeFileSync(mainScript, `${BUNDLE_SCOPE}\n${text}`);
      }
    }
  };
  URL.createObjectURL = (blob: Blob): string => {
    const text = texts.get(blob);
    if (text === undefined) return nativeCreateObjectURL(blob);
    if (mainScript === null) throw new Error('wasmThreads: tfjs-wasm asked for its pthread worker before building its main script');
    const file = join(dir, `worker-${files++}.js`);
    writeFileSync(file, `URL.createObjectURL=()=>${JSON.stringify(mainScript)};URL.revokeObjectURL=()=>{};\n${text}`);
    return file;
  };
  os.cpus = () => {
    const cpu = nativeCpus()[0];
    return Array.from({ length: 2 * threads }, () => cpu);
  };
  try {
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
    wasm.setThreadsCount(threads);
    const ok = await tf.setBackend('wasm');
    if (!ok) throw new Error('wasmThreads: tfjs could not initialise the threaded wasm backend');
    await tf.ready();
  } finally {
    globalThis.Blob = NativeBlob;
    URL.createObjectURL = nativeCreateObjectURL;
    os.cpus = nativeCpus;
    // The pool's workers have loaded their scripts by now (tfjs is ready only after they have).
    rmSync(dir, { recursive: true, force: true });
  }
  const got = wasm.getThreadsCount();
  if (got !== threads) throw new Error(`wasmThreads: asked for ${threads} threads, the wasm backend runs ${got}`);
  // Idle pool threads wait on a futex; unreferenced, they do not keep the process alive.
  const pool = (tf.backend() as unknown as { wasm: { PThread?: PThreadPool } }).wasm.PThread;
  for (const worker of [...(pool?.unusedWorkers ?? []), ...(pool?.runningWorkers ?? [])]) worker.unref();
  return got;
}
