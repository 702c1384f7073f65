import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** Versions recorded in a run's config.json, so a run says what produced it. */
export function runVersions(): Record<string, string> {
  const out: Record<string, string> = { node: process.version };
  for (const name of ['@mats/core', '@mats/datasets', '@mats/clap', '@mats/santa', '@mats/mapper', '@mats/llm-lora', '@mats/bench', '@tensorflow/tfjs']) {
    try {
      out[name] = (require(`${name}/package.json`) as { version: string }).version;
    } catch {
      out[name] = 'unknown';
    }
  }
  return out;
}
