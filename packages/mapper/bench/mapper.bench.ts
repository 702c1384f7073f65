/**
 * Mapper benchmarks at the paper's size (1024 -> 40 x 768, 8 layers, 8 heads, ratio 2):
 * inference throughput of forward(), and one training step of the mapper alone (forward, MSE
 * loss, backward, Adam update). Run: npx tsx packages/mapper/bench/mapper.bench.ts
 * Environment: MATS_BENCH_REPS (repetitions, default 5), MATS_BACKEND (default wasm).
 */
import * as tf from '@tensorflow/tfjs';
import { Rng, createEmbeddings, parseBackendName, selectBackend } from '@mats/core';
import { createMapper } from '@mats/mapper';

const reps = Number(process.env.MATS_BENCH_REPS ?? 5);
const backend = await selectBackend(parseBackendName(process.env.MATS_BACKEND ?? 'wasm', 'MATS_BACKEND'));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function report(benchmark: string, value: number, unit: string, higherIsBetter: boolean, samples: number[], params: Record<string, unknown>) {
  console.log(`${benchmark}: ${value.toFixed(3)} ${unit} (median of ${samples.length}, ${JSON.stringify(params)})`);
  console.log(JSON.stringify({ benchmark, value, unit, higherIsBetter, samples, params }));
}

const rng = new Rng(0);
const mapper = createMapper({}, rng);
const { clapDim, prefixLength, width } = mapper.config;
const common = { backend: backend.tfBackend, clapDim, prefixLength, width, layers: mapper.config.layers, heads: mapper.config.heads };

// Inference: rows per second through forward() (normalisation, upload, download included).
for (const batch of [1, 8]) {
  const input = createEmbeddings(batch, clapDim, rng.fillNormal(new Float32Array(batch * clapDim)) as Float32Array);
  await mapper.forward(input, { batchSize: batch }); // warm-up
  const samples: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    await mapper.forward(input, { batchSize: batch });
    samples.push(batch / ((performance.now() - t0) / 1000));
  }
  report('mapper/forward', median(samples), 'rows/s', true, samples, { ...common, batch });
}

// Training step of the mapper alone: MSE to a fixed target, gradients, Adam (lr 1e-4). The Adam
// moments live in JS typed arrays, not in the wasm heap: at paper size the mapper has 69M parameters
// (the input Linear alone is 126 MB) and the wasm heap is capped at 4 GB, which tfjs's in-heap Adam
// (three extra copies plus temporaries) overflows.
{
  const batch = 8;
  const x = tf.tensor2d(rng.fillNormal(new Float32Array(batch * clapDim)) as Float32Array, [batch, clapDim]);
  const target = tf.tensor3d(rng.fillNormal(new Float32Array(batch * prefixLength * width)) as Float32Array, [batch, prefixLength, width]);
  const vars = mapper.trainableVariables;
  const params = vars.map((v) => v.dataSync() as Float32Array);
  const m = vars.map((v) => new Float32Array(v.size));
  const s = vars.map((v) => new Float32Array(v.size));
  let t = 0;
  const step = async () => {
    const { value, grads } = tf.variableGrads(() => tf.losses.meanSquaredError(target, mapper.apply(x)) as tf.Scalar, vars);
    t++;
    // torch.optim.Adam's update, with the bias corrections folded into two constants.
    const stepSize = 1e-4 / (1 - 0.9 ** t);
    const sqrtBc2 = Math.sqrt(1 - 0.999 ** t);
    vars.forEach((v, i) => {
      const g = grads[v.name].dataSync() as Float32Array;
      grads[v.name].dispose();
      const p = params[i];
      const mi = m[i];
      const si = s[i];
      for (let k = 0; k < p.length; k++) {
        mi[k] = 0.9 * mi[k] + 0.1 * g[k];
        si[k] = 0.999 * si[k] + 0.001 * g[k] * g[k];
        p[k] -= (stepSize * mi[k]) / (Math.sqrt(si[k]) / sqrtBc2 + 1e-8);
      }
      tf.tidy(() => v.assign(tf.tensor(p, v.shape)));
    });
    await value.data();
    value.dispose();
  };
  await step(); // warm-up
  const samples: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    await step();
    samples.push(performance.now() - t0);
  }
  report('mapper/train-step', median(samples), 'ms', false, samples, { ...common, batch, optimizer: 'adam (JS typed arrays)' });
  tf.dispose([x, target]);
}
mapper.dispose();
