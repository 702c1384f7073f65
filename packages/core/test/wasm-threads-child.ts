// Child process of wasm-threads.test.ts: selects the wasm backend with the thread count of argv[2],
// runs a matrix product, a convolution and a depthwise convolution (XNNPACK's threaded kernels) on
// seeded inputs, and prints the thread count and the outputs' bytes as hex. It never calls
// process.exit: the test also checks that the thread pool lets the process end.
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import { Rng, selectBackend } from '../src/index.js';

const threads = Number(process.argv[2]);
const info = await selectBackend('wasm', { wasmThreads: threads });
const rng = new Rng(7);
const normal = (shape: number[]) => tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal()), shape);
const a = normal([181, 384]);
const b = normal([384, 512]);
const image = normal([2, 24, 24, 16]);
const filter = normal([3, 3, 16, 32]);
const depthwise = normal([5, 5, 16, 1]);
const outputs = [tf.matMul(a, b), tf.conv2d(image as tf.Tensor4D, filter as tf.Tensor4D, 1, 'same'), tf.depthwiseConv2d(image as tf.Tensor4D, depthwise as tf.Tensor4D, 1, 'same')];
const hash = createHash('sha256');
for (const out of outputs) hash.update(Buffer.from((await out.data()).buffer));
// Unset later: whatever runs.
const unset = (await selectBackend('wasm')).threads;
let again = 'none';
try {
  await selectBackend('wasm', { wasmThreads: threads === 1 ? 2 : 1 });
} catch (err) {
  again = (err as Error).message;
}
process.stdout.write(`${JSON.stringify({ threads: info.threads, unset, hash: hash.digest('hex'), sum: (await outputs[0].sum().data())[0], again })}\n`);
