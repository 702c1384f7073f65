#!/usr/bin/env node
// Times Santa's memory sample of a streamed run on its existing cache (after the embedding stage):
//   node apps/trainer/scripts/sample-memory.mjs CONFIG_FILE
// Prints the seconds, the rows sampled and the part loads of the cache LRU (apps/trainer/README.md).
import { clapFingerprint, resolveConfig } from '@mats/app-shared';
import { StreamingTrainingData } from '../dist/stream-data.js';

const config = resolveConfig({ configFile: process.argv[2] });
const data = await StreamingTrainingData.open(config, { modelKey: clapFingerprint(config), skipBad: config.data.skipBad });
const t0 = performance.now();
const memory = await data.sampleMemory(config.santa.memorySize);
const seconds = (performance.now() - t0) / 1000;
console.log(JSON.stringify({ seconds: Math.round(seconds * 10) / 10, rows: memory.embeddings.rows, ...data.cacheStats() }));
await data.close();
