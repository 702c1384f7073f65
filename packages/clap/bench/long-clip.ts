/**
 * Peak memory of embedding one long clip with the committed TinyClap, decoded whole
 * (`embedAudio(decodeAudioFile)`, the route before `embedAudioFiles`) or through the file route:
 *
 *   npx tsx packages/clap/bench/long-clip.ts write /tmp/long.wav 7200     # a 2-hour 44.1 kHz mono PCM16 WAV
 *   /usr/bin/time -v npx tsx packages/clap/bench/long-clip.ts decoded /tmp/long.wav
 *   /usr/bin/time -v npx tsx packages/clap/bench/long-clip.ts files /tmp/long.wav
 *
 * Prints the embedding's first values (the two routes give the same row) and the wall time.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { Rng, selectBackend } from '@mats/core';
import { decodeAudioFile, encodeWav } from '@mats/datasets';
import { TINY_CLAP_WORLD_DIR, TinyClap } from '../src/index.js';

const [mode, path, secondsArg] = process.argv.slice(2);
if (!path || !['write', 'decoded', 'files'].includes(mode)) {
  console.error('usage: long-clip.ts write FILE SECONDS | decoded FILE | files FILE');
  process.exit(2);
}

if (mode === 'write') {
  // Written a minute at a time (noise and a tone), so the file is real data, not a sparse hole.
  const rate = 44100;
  const minutes = Math.ceil(Number(secondsArg) / 60);
  const rng = new Rng(1);
  const header = encodeWav({ sampleRate: rate, channels: [new Float32Array(0)] });
  const frames = minutes * 60 * rate;
  const view = new DataView(header.buffer);
  view.setUint32(4, 36 + frames * 2, true);
  view.setUint32(40, frames * 2, true);
  const fd = openSync(path, 'w');
  writeSync(fd, header, 0, 44);
  for (let m = 0; m < minutes; m++) {
    const ch = [Float32Array.from({ length: 60 * rate }, (_, i) => 0.3 * Math.sin((2 * Math.PI * (200 + 50 * m) * i) / rate) + 0.05 * rng.normal())];
    writeSync(fd, encodeWav({ sampleRate: rate, channels: ch }).subarray(44));
  }
  closeSync(fd);
  console.log(`${path}: ${minutes} min of ${rate} Hz mono PCM16 (${((44 + frames * 2) / 2 ** 20).toFixed(0)} MiB)`);
} else {
  await selectBackend('wasm');
  const clap = TinyClap.load(TINY_CLAP_WORLD_DIR, { seed: 0 });
  const t0 = performance.now();
  const e = mode === 'decoded' ? await clap.embedAudio([await decodeAudioFile(path)]) : await clap.embedAudioFiles([path]);
  const seconds = (performance.now() - t0) / 1000;
  console.log(JSON.stringify({ mode, seconds: Number(seconds.toFixed(2)), head: Array.from(e.data.subarray(0, 4)) }));
  await clap.dispose();
}
