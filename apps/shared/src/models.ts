import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type ClapEncoder, loadClap as openClapSpec } from '@mats/clap';
import { type CausalLM, loadCausalLM } from '@mats/llm-lora';
import { type MatsModelSpec, modelSpecFromConfig } from '@mats/model';
import type { MatsConfig } from './config.js';
import { resolvePath } from './paths.js';

/** Opens the CLAP encoder the config names (the tiny world CLAP or msclap through ONNX Runtime). */
export async function loadClap(config: MatsConfig): Promise<ClapEncoder> {
  const c = config.clap;
  if (c.kind === 'tiny') {
    const dir = resolvePath(c.dir);
    if (!existsSync(dir)) throw new Error(`clap.dir: ${dir} does not exist (expected the tiny CLAP folder: config.json + model.safetensors)`);
    return openClapSpec({ type: 'tiny', dir, batchSize: c.batchSize, seed: config.seed });
  }
  return openClapSpec({
    type: 'onnx',
    audioModel: resolvePath(c.audioModel),
    textModel: resolvePath(c.textModel),
    batchSize: c.batchSize,
    threads: c.threads > 0 ? c.threads : undefined,
    executionProviders: c.executionProviders,
    seed: config.seed,
  });
}

/** Loads the frozen LLM folder the config names. */
export function loadLlm(config: MatsConfig): CausalLM {
  const dir = resolvePath(config.llm.dir);
  if (!existsSync(dir)) throw new Error(`llm.dir: ${dir} does not exist (expected a Hugging Face GPT-2 folder: config.json, model.safetensors, tokenizer files)`);
  return loadCausalLM(dir);
}

/**
 * A short fingerprint of the CLAP model files (content of small files; size and time of big ones), so embedding caches
 * made with other weights are never reused.
 */
export function clapFingerprint(config: MatsConfig): string {
  const c = config.clap;
  const files: string[] = [];
  if (c.kind === 'tiny') {
    const dir = resolvePath(c.dir);
    if (existsSync(dir)) for (const f of readdirSync(dir).sort()) files.push(join(dir, f));
  } else {
    files.push(resolvePath(c.audioModel), resolvePath(c.textModel));
  }
  const h = createHash('sha256').update(c.kind);
  for (const f of files) {
    if (!existsSync(f)) continue;
    const s = statSync(f);
    if (!s.isFile()) continue;
    // Small files (the tiny models) by content; big ONNX files by size and modification time.
    if (s.size < 64 * 1024 * 1024) h.update(readFileSync(f));
    else h.update(`${f}\n${s.size}\n${s.mtimeMs}\n`);
  }
  return `${c.kind}:${h.digest('hex').slice(0, 16)}`;
}

/** The model a config describes (@mats/model's spec), with its component paths resolved against the base folder. */
export function modelSpec(config: MatsConfig): MatsModelSpec {
  const spec = modelSpecFromConfig(config);
  if (spec.clap.kind === 'tiny') spec.clap.dir = resolvePath(spec.clap.dir);
  else {
    spec.clap.audioModel = resolvePath(spec.clap.audioModel);
    spec.clap.textModel = resolvePath(spec.clap.textModel);
  }
  spec.llm.dir = resolvePath(spec.llm.dir);
  return spec;
}
