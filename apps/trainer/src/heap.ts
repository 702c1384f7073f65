import * as tf from '@tensorflow/tfjs';

/**
 * The wasm backend's heap in MiB, or null on any other backend. A WebAssembly memory only grows, so
 * read at the end of a run this is the run's peak (what the 4 GiB wasm cap limits).
 */
export function wasmHeapMiB(): number | null {
  const wasm = (tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }).wasm;
  return wasm?.HEAPU8 ? Math.round(wasm.HEAPU8.length / 2 ** 20) : null;
}
