/** What the browser must offer for onnxruntime-web's wasm backend, checked before anything is loaded. */

/**
 * The smallest module using a SIMD instruction: (func (result v128) i32.const 0 i8x16.splat
 * i8x16.popcnt). Engines without WebAssembly SIMD reject it in WebAssembly.validate.
 */
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);

interface WasmLike {
  validate(bytes: Uint8Array): boolean;
}

/** null when the browser can run the page's ONNX models, else the message to show. */
export function wasmProblem(wasm: WasmLike | undefined = (globalThis as { WebAssembly?: WasmLike }).WebAssembly): string | null {
  if (!wasm || typeof wasm.validate !== 'function') {
    return 'This browser has no WebAssembly, which ONNX Runtime Web needs to run the model. Use a current Chrome, Edge, Firefox or Safari.';
  }
  if (!wasm.validate(SIMD_PROBE)) {
    return 'This browser lacks WebAssembly SIMD (fixed-width 128-bit vectors), which ONNX Runtime Web needs. Update the browser (Chrome/Edge 91+, Firefox 89+, Safari 16.4+) or enable WebAssembly SIMD.';
  }
  return null;
}
