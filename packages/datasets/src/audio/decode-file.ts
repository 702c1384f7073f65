/** Reading audio files from disk (Node only; ./decode.ts itself stays free of node: modules for the browser entry). */
import { readFile } from 'node:fs/promises';
import type { AudioClip } from './clip.js';
import { decodeAudio } from './decode.js';

/** Reads and decodes an audio file (WAV / FLAC / MP3 / OGG). Errors name the path. */
export async function decodeAudioFile(path: string): Promise<AudioClip> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`${path}: cannot read audio file (${code ?? (err as Error).message})`);
  }
  return decodeAudio(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path);
}
