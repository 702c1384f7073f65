import { fileURLToPath } from 'node:url';
import type { ClapEncoder } from './encoder.js';
import { OnnxClap, type OnnxSessionOptions } from './onnx-clap.js';
import { TinyClap } from './tiny/tiny-clap.js';
import type { ChannelMode } from './audio-prep.js';

/** Which CLAP to use, as it appears in an app's config. */
export type ClapSpec =
  | { type: 'tiny'; dir: string; batchSize?: number; seed?: number }
  | ({ type: 'onnx'; audioModel: string; textModel: string; batchSize?: number; seed?: number; channelMode?: ChannelMode } & OnnxSessionOptions);

/**
 * Opens the CLAP a config names: `{ type: 'tiny', dir }` (a TinyClap directory; the tfjs backend
 * must already be selected, e.g. with selectBackend from @mats/core) or
 * `{ type: 'onnx', audioModel, textModel, threads?, executionProviders? }` (msclap exported to ONNX).
 */
export async function loadClap(spec: ClapSpec): Promise<ClapEncoder> {
  if (!spec || typeof spec !== 'object') throw new Error(`loadClap: expected a spec object, got ${JSON.stringify(spec)}`);
  switch (spec.type) {
    case 'tiny':
      if (typeof spec.dir !== 'string' || !spec.dir) throw new Error('loadClap: spec.dir (the tiny CLAP directory) is required for type "tiny"');
      return TinyClap.load(spec.dir, { batchSize: spec.batchSize, seed: spec.seed });
    case 'onnx': {
      const { type: _type, ...options } = spec;
      return OnnxClap.create(options);
    }
    default:
      throw new Error(`loadClap: spec.type must be "tiny" or "onnx", got ${JSON.stringify((spec as { type?: unknown }).type)}`);
  }
}

/** The committed tiny CLAP trained on the default synthetic world (seed 0, default size). */
export const TINY_CLAP_WORLD_DIR = fileURLToPath(new URL('../assets/tiny-clap-world', import.meta.url));
