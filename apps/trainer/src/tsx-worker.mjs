// Starts a worker-thread entry written in TypeScript (the trainer's sources, run by vitest or tsx):
// a worker thread gets none of its parent's loaders, so tsx's is registered here first. The built
// trainer (dist/) starts gradient-worker.js directly and never loads this file.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
