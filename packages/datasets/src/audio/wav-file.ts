/** Writing WAV files (Node only; ./wav.ts itself stays free of node: modules for the browser entry). */
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { AudioClip } from './clip.js';
import { encodeWav, type WavEncodeOptions } from './wav.js';

/** Writes a clip to `path` as WAV (creating the folder). */
export function writeWav(path: string, clip: AudioClip, options: WavEncodeOptions = {}): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, encodeWav(clip, options));
}
