#!/usr/bin/env node
// Writes packages/datasets/fixtures/audio/compressed/: a 1 s sine as MP3 (LAME) and Ogg Vorbis, encoded with
// wasm-media-encoders (a devDependency of @mats/datasets), so the tests can check that decodeAudioFile reads
// real compressed files (frequency, amplitude, length) through audio-decode. Run: node tools/datasets_compressed_fixtures.mjs
import { createMp3Encoder, createOggEncoder } from 'wasm-media-encoders';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'packages', 'datasets', 'fixtures', 'audio', 'compressed');
mkdirSync(out, { recursive: true });

const sampleRate = 22050;
const seconds = 1;
const tones = [440, 880]; // left, right
const amplitude = 0.5;
const channels = tones.map((f) => Float32Array.from({ length: sampleRate * seconds }, (_, i) => amplitude * Math.sin((2 * Math.PI * f * i) / sampleRate)));

async function encode(encoder, config) {
  encoder.configure(config);
  const parts = [];
  const a = encoder.encode(channels);
  parts.push(Uint8Array.from(a));
  const b = encoder.finalize();
  parts.push(Uint8Array.from(b));
  return Buffer.concat(parts);
}

const mp3 = await encode(await createMp3Encoder(), { sampleRate, channels: 2, bitrate: 128 });
writeFileSync(join(out, 'tone_440_880.mp3'), mp3);
const ogg = await encode(await createOggEncoder(), { sampleRate, channels: 2, vbrQuality: 5 });
writeFileSync(join(out, 'tone_440_880.ogg'), ogg);
writeFileSync(
  join(out, 'compressed.json'),
  JSON.stringify({ generator: 'tools/datasets_compressed_fixtures.mjs', sampleRate, seconds, tones, amplitude, files: ['tone_440_880.mp3', 'tone_440_880.ogg'] }, null, 1) + '\n',
);
console.log(`wrote ${out}: mp3 ${mp3.length} bytes, ogg ${ogg.length} bytes`);
