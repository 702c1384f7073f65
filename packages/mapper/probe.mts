import * as tf from '@tensorflow/tfjs';
import { selectBackend, Rng } from '@mats/core';
import { createMapper } from './src/index.ts';
await selectBackend('wasm');
const mapper = createMapper({}, new Rng(0));
const x = tf.randomNormal([8, 1024]) as tf.Tensor2D;
const target = tf.randomNormal([8, 40, 768]);
const vars = mapper.trainableVariables;
const params = vars.map((v) => v.dataSync() as Float32Array);
const m = vars.map((v) => new Float32Array(v.size)); const s = vars.map((v) => new Float32Array(v.size));
const heap = () => ((tf.backend() as any).wasm.HEAPU8.length/2**20).toFixed(0);
for (let t = 1; t <= 3; t++) {
  const c0 = process.cpuUsage(); const t0 = performance.now();
  const { value, grads } = tf.variableGrads(() => tf.losses.meanSquaredError(target, mapper.apply(x)) as tf.Scalar, vars);
  await value.data();
  const t1 = performance.now();
  let tRead = 0, tLoop = 0, tAssign = 0;
  vars.forEach((v, i) => {
    let a = performance.now();
    const g = grads[v.name].dataSync() as Float32Array; grads[v.name].dispose();
    let b = performance.now(); tRead += b - a;
    const p = params[i], mi = m[i], si = s[i]; const bc1 = 1 - 0.9 ** t, bc2 = 1 - 0.999 ** t;
    for (let k = 0; k < p.length; k++) { mi[k] = 0.9 * mi[k] + 0.1 * g[k]; si[k] = 0.999 * si[k] + 0.001 * g[k] * g[k]; p[k] -= (1e-4 * mi[k]) / bc1 / (Math.sqrt(si[k] / bc2) + 1e-8); }
    a = performance.now(); tLoop += a - b;
    tf.tidy(() => v.assign(tf.tensor(p, v.shape)));
    tAssign += performance.now() - a;
  });
  value.dispose();
  const cpu = process.cpuUsage(c0);
  console.log(`step ${t}: fwd+bwd ${(t1-t0).toFixed(0)} ms, read grads ${tRead.toFixed(0)}, adam loop ${tLoop.toFixed(0)}, assign ${tAssign.toFixed(0)}, total ${(performance.now()-t0).toFixed(0)} wall / ${((cpu.user+cpu.system)/1000).toFixed(0)} cpu ms; heap ${heap()} MB`);
}
