import * as tf from '@tensorflow/tfjs';

/** What the wasm backend offers a kernel (public methods of BackendWasm). */
interface WasmKernelBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

let installed = false;

/**
 * tfjs-wasm's Slice kernel first copies its whole input out of the wasm heap (backend.readSync)
 * and then takes the slice from that copy, so every slice costs the size of its input: the row
 * blocks that pack and unpack padded batches (ops.packRows), or the per-variable pieces of one
 * flat vector, each copied the whole tensor. This replaces the kernel for contiguous slices (a
 * range of rows of a row-major tensor, a range of a vector) by one copy of the output range inside
 * the heap; every other slice goes to the original kernel. Same values, bit for bit. Called when
 * the wasm backend is selected; idempotent.
 */
export function installContiguousWasmSlice(): void {
  if (installed) return;
  const original = tf.getKernel('Slice', 'wasm');
  if (!original) return;
  installed = true;
  tf.unregisterKernel('Slice', 'wasm');
  tf.registerKernel({
    ...original,
    kernelFunc: (args) => {
      const x = args.inputs.x as tf.TensorInfo;
      const { begin, size } = args.attrs as unknown as { begin: number | number[]; size: number | number[] };
      const [start, extent] = tf.slice_util.parseSliceParams(x, begin, size);
      if (x.dtype === 'string' || !tf.slice_util.isSliceContinous(x.shape, start, extent)) return original.kernelFunc(args);
      const backend = args.backend as unknown as WasmKernelBackend;
      const out = backend.makeOutput(extent, x.dtype);
      const offset = tf.slice_util.computeFlatOffset(start, tf.util.computeStrides(x.shape));
      const n = tf.util.sizeFromShape(extent);
      backend.typedArrayFromHeap(out).set(backend.typedArrayFromHeap(x).subarray(offset, offset + n));
      return out;
    },
  });
}
