/**
 * A worker thread of `train.workers` (started by parallel.ts): builds its replica once - its own
 * tfjs backend (the main thread's), the frozen LLM from llm.dir, the mapper and LoRA adapter as a
 * `TrainingReplica` - then, per step, sets the trainable values it is sent and returns the loss and
 * gradients of its share of the batch.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { selectBackend } from '@mats/core';
import { hostGradients } from '@mats/llm-lora';
import { TrainingReplica } from '@mats/model';
import { loadLlm, modelSpec } from '@mats/app-shared';
import { wasmHeapMiB } from './heap.js';
import { type WorkerInit, type WorkerReply, type WorkerRequest, shareDropoutRng } from './parallel.js';

const init = workerData as WorkerInit;
const port = parentPort!;
const post = (reply: WorkerReply, transfer: ArrayBuffer[] = []) => port.postMessage(reply, transfer);
const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

async function build(): Promise<TrainingReplica> {
  await selectBackend(init.backend, { wasmThreads: init.config.wasmThreads });
  const replica = TrainingReplica.create(modelSpec(init.config), { llm: loadLlm(init.config), clapDim: init.clapDim });
  const sizes = replica.trainableVariables.map((v) => v.size);
  if (JSON.stringify(sizes) !== JSON.stringify(init.sizes)) {
    replica.dispose();
    throw new Error(`its replica's trainable tensors have ${JSON.stringify(sizes).slice(0, 120)} values, the main thread's model ${JSON.stringify(init.sizes).slice(0, 120)} (llm.dir ${init.config.llm.dir})`);
  }
  return replica;
}

async function step(replica: TrainingReplica, request: WorkerRequest): Promise<void> {
  replica.setTrainableValues(request.values);
  const dropoutRng = shareDropoutRng(init.config.seed, request.step, init.share);
  const losses = request.chunks.map((chunk) => () => replica.trainingLoss(chunk, { noise: null, training: true, dropoutRng, denominator: request.denominator }));
  const { loss, grads } = await hostGradients(losses, replica.trainableVariables);
  post({ kind: 'gradients', step: request.step, loss, grads, heapMiB: wasmHeapMiB() }, grads.map((g) => g.buffer as ArrayBuffer));
}

try {
  const replica = await build();
  // One request at a time: the main thread waits for this step's reply before it sends the next.
  port.on('message', (request: WorkerRequest) => {
    step(replica, request).catch((err) => post({ kind: 'error', step: request.step, message: messageOf(err) }));
  });
  post({ kind: 'ready' });
} catch (err) {
  post({ kind: 'error', step: null, message: messageOf(err) });
}
