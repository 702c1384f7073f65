/**
 * LoRA as PEFT does it: a wrapper around a frozen projection adds `scaling * B(A(dropout(x)))`.
 * Weights are kept as A [in, r] and B [r, out] (the layout the matmuls want) and written in PEFT's
 * nn.Linear layout, lora_A.weight [r, in] and lora_B.weight [out, r].
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertFiniteTensors, parseJson, readSafetensors, writeSafetensors, writeFileAtomic, type Rng, type TensorToWrite } from '@mats/core';
import { Conv1D, type Block, type CausalLM, type ForwardContext, type Projection } from './gpt2.js';
import { loraLinear } from './ops.js';

export interface LoraConfig {
  /** Rank r (default 8). */
  r: number;
  /** lora_alpha (default 32); scaling = alpha / r. */
  alpha: number;
  /** Dropout on the LoRA input path during training (default 0.1). */
  dropout: number;
  /** Module names to wrap: any of c_attn, c_proj, c_fc (default ['c_attn'], PEFT's GPT-2 default). */
  targetModules: string[];
}

export const DEFAULT_LORA: LoraConfig = { r: 8, alpha: 32, dropout: 0.1, targetModules: ['c_attn'] };

/** A frozen Conv1D plus a low-rank update. */
export class LoraProjection implements Projection {
  constructor(
    readonly base: Conv1D,
    readonly loraA: tf.Variable, // [in, r]
    readonly loraB: tf.Variable, // [r, out]
    readonly scaling: number,
    readonly dropout: number,
  ) {}

  apply(x2d: tf.Tensor2D, ctx: ForwardContext): tf.Tensor2D {
    let mask: tf.Tensor2D | null = null;
    if (ctx.training && this.dropout > 0) {
      if (!ctx.rng) throw new Error('LoRA dropout in training needs an rng in the forward options');
      mask = dropoutMask(x2d.shape, this.dropout, ctx.rng);
    }
    const out = loraLinear(x2d, this.loraA as tf.Tensor2D, this.loraB as tf.Tensor2D, this.base.frozen(), this.scaling, mask);
    mask?.dispose();
    return out;
  }
}

/** Inverted-dropout mask (0 with probability p, else 1 / (1 - p)) drawn from the seeded rng. */
function dropoutMask(shape: [number, number], p: number, rng: Rng): tf.Tensor2D {
  const data = new Float32Array(shape[0] * shape[1]);
  const keep = 1 / (1 - p);
  for (let i = 0; i < data.length; i++) data[i] = rng.uniform() < p ? 0 : keep;
  return tf.tensor2d(data, shape);
}

type ModuleKey = 'cAttn' | 'cProjAttn' | 'cFc' | 'cProjMlp';
const MODULES: { key: ModuleKey; path: string; name: string }[] = [
  { key: 'cAttn', path: 'attn.c_attn', name: 'c_attn' },
  { key: 'cProjAttn', path: 'attn.c_proj', name: 'c_proj' },
  { key: 'cFc', path: 'mlp.c_fc', name: 'c_fc' },
  { key: 'cProjMlp', path: 'mlp.c_proj', name: 'c_proj' },
];

export class LoraState {
  constructor(
    readonly config: LoraConfig,
    /** Wrapped modules by path, e.g. `h.0.attn.c_attn`. */
    readonly layers: Map<string, LoraProjection>,
  ) {}

  /** The trainable tensors, A and B of every wrapped module, in a stable order. */
  variables(): tf.Variable[] {
    const out: tf.Variable[] = [];
    for (const l of this.layers.values()) out.push(l.loraA, l.loraB);
    return out;
  }

  dispose(): void {
    for (const l of this.layers.values()) {
      l.loraA.dispose();
      l.loraB.dispose();
    }
  }
}

function checkConfig(config: LoraConfig, source: string): void {
  if (!Number.isInteger(config.r) || config.r <= 0) throw new Error(`${source}: r must be a positive integer, got ${config.r}`);
  if (!(config.alpha > 0)) throw new Error(`${source}: lora_alpha must be > 0, got ${config.alpha}`);
  if (!(config.dropout >= 0 && config.dropout < 1)) throw new Error(`${source}: lora_dropout must be in [0, 1), got ${config.dropout}`);
  const known = new Set(MODULES.map((m) => m.name));
  if (!config.targetModules.length) throw new Error(`${source}: target_modules is empty`);
  for (const t of config.targetModules) if (!known.has(t)) throw new Error(`${source}: target module "${t}" is not a GPT-2 projection (expected c_attn, c_proj or c_fc)`);
}

/** Wraps the target projections; A from `init(path, in, r)`, B zeros unless given. */
function wrap(model: CausalLM, config: LoraConfig, makeAB: (path: string, inDim: number, outDim: number) => [Float32Array, Float32Array]): LoraState {
  if (model.lora) throw new Error('applyLora: the model already has a LoRA adapter (merge or remove it first)');
  checkConfig(config, 'LoRA config');
  const layers = new Map<string, LoraProjection>();
  const scaling = config.alpha / config.r;
  model.blocks.forEach((block: Block, i) => {
    for (const m of MODULES) {
      if (!config.targetModules.includes(m.name)) continue;
      const base = block[m.key];
      if (!(base instanceof Conv1D)) throw new Error(`applyLora: h.${i}.${m.path} is not a plain Conv1D`);
      const [inDim, outDim] = base.weight.shape;
      const path = `h.${i}.${m.path}`;
      const [a, b] = makeAB(path, inDim, outDim);
      const loraA = tf.variable(tf.tensor2d(a, [inDim, config.r]), true);
      const loraB = tf.variable(tf.tensor2d(b, [config.r, outDim]), true);
      const wrapped = new LoraProjection(base, loraA, loraB, scaling, config.dropout);
      block[m.key] = wrapped;
      layers.set(path, wrapped);
    }
  });
  const state = new LoraState(config, layers);
  model.lora = state;
  return state;
}

/**
 * Adds a fresh adapter: A Kaiming-uniform (PEFT: kaiming_uniform_(a=sqrt(5)), i.e. U(+-1/sqrt(in))),
 * B zeros, so the model's outputs do not change until B is trained. Base weights stay frozen.
 */
export function applyLora(model: CausalLM, config: Partial<LoraConfig>, rng: Rng): LoraState {
  const full: LoraConfig = { ...DEFAULT_LORA, ...config };
  return wrap(model, full, (_path, inDim, outDim) => {
    const bound = 1 / Math.sqrt(inDim);
    // Drawn in PEFT's [r, in] order, stored transposed as [in, r].
    const aRin = rng.fillUniform(new Float32Array(full.r * inDim), -bound, bound);
    return [transpose(aRin as Float32Array, full.r, inDim), new Float32Array(full.r * outDim)];
  });
}

function transpose(src: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = src[i * cols + j];
  return out;
}

const PEFT_PREFIX = 'base_model.model.transformer.';

/** Writes `adapter_config.json` and `adapter_model.safetensors` in PEFT's format and names. */
export async function saveLora(model: CausalLM, dir: string, baseModelName = 'gpt2'): Promise<void> {
  const lora = model.lora;
  if (!lora) throw new Error('saveLora: the model has no LoRA adapter');
  mkdirSync(dir, { recursive: true });
  const tensors = new Map<string, TensorToWrite>();
  for (const [path, layer] of lora.layers) {
    const [inDim, r] = layer.loraA.shape as [number, number];
    const outDim = layer.loraB.shape[1] as number;
    tensors.set(`${PEFT_PREFIX}${path}.lora_A.weight`, { data: transpose((await layer.loraA.data()) as Float32Array, inDim, r), shape: [r, inDim] });
    tensors.set(`${PEFT_PREFIX}${path}.lora_B.weight`, { data: transpose((await layer.loraB.data()) as Float32Array, r, outDim), shape: [outDim, r] });
  }
  const c = lora.config;
  const adapterConfig = {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    base_model_name_or_path: baseModelName,
    r: c.r,
    lora_alpha: c.alpha,
    lora_dropout: c.dropout,
    target_modules: c.targetModules,
    fan_in_fan_out: true,
    bias: 'none',
    inference_mode: true,
    init_lora_weights: true,
    modules_to_save: null,
    layers_to_transform: null,
    use_rslora: false,
  };
  writeFileAtomic(join(dir, 'adapter_config.json'), JSON.stringify(adapterConfig, null, 2) + '\n');
  writeSafetensors(join(dir, 'adapter_model.safetensors'), tensors, { format: 'pt' });
}

/** Reads a PEFT adapter folder and applies it to the model (names with or without `transformer.`). */
export function loadLora(model: CausalLM, dir: string): CausalLM {
  const configPath = join(dir, 'adapter_config.json');
  if (!existsSync(configPath)) throw new Error(`${dir}: no adapter_config.json`);
  let json: Record<string, any>;
  try {
    json = parseJson(readFileSync(configPath, 'utf8')) as Record<string, any>;
  } catch (err) {
    throw new Error(`${configPath}: not valid JSON (${(err as Error).message})`);
  }
  if (json.peft_type !== 'LORA') throw new Error(`${configPath}: field "peft_type" is ${JSON.stringify(json.peft_type)}, expected "LORA"`);
  if (json.use_rslora) throw new Error(`${configPath}: field "use_rslora" is true, which is not supported`);
  if (json.bias && json.bias !== 'none') throw new Error(`${configPath}: field "bias" is ${JSON.stringify(json.bias)}, only "none" is supported`);
  const targets: string[] = typeof json.target_modules === 'string' ? [json.target_modules] : json.target_modules;
  const config: LoraConfig = { r: json.r, alpha: json.lora_alpha, dropout: json.lora_dropout ?? 0, targetModules: targets ?? [] };
  checkConfig(config, configPath);
  const weightsPath = join(dir, 'adapter_model.safetensors');
  if (!existsSync(weightsPath)) throw new Error(`${dir}: no adapter_model.safetensors`);
  const file = readSafetensors(weightsPath);
  assertFiniteTensors(file, weightsPath);
  const hasTransformer = [...file.tensors.keys()].some((k) => k.startsWith(PEFT_PREFIX));
  const prefix = hasTransformer ? PEFT_PREFIX : 'base_model.model.';
  const get = (name: string, shape: number[]): Float32Array => {
    const t = file.tensors.get(name);
    if (!t) throw new Error(`${weightsPath}: missing tensor "${name}"`);
    if (!(t.data instanceof Float32Array)) throw new Error(`${weightsPath}: tensor "${name}" has dtype ${t.dtype}, expected floating point`);
    if (t.shape.length !== 2 || t.shape[0] !== shape[0] || t.shape[1] !== shape[1]) {
      throw new Error(`${weightsPath}: tensor "${name}" has shape ${JSON.stringify(t.shape)}, expected ${JSON.stringify(shape)}`);
    }
    return t.data;
  };
  wrap(model, config, (path, inDim, outDim) => {
    const a = get(`${prefix}${path}.lora_A.weight`, [config.r, inDim]);
    const b = get(`${prefix}${path}.lora_B.weight`, [outDim, config.r]);
    return [transpose(a, config.r, inDim), transpose(b, outDim, config.r)];
  });
  return model;
}

/**
 * Folds the adapter into the base weights (W += scaling * A @ B, Conv1D layout) and removes the
 * wrappers, so inference costs what the base model costs (PEFT's merge_and_unload).
 */
export function mergeLora(model: CausalLM): CausalLM {
  const lora = model.lora;
  if (!lora) throw new Error('mergeLora: the model has no LoRA adapter');
  model.blocks.forEach((block) => {
    for (const m of MODULES) {
      const p = block[m.key];
      if (p instanceof LoraProjection) {
        tf.tidy(() => p.base.weight.assign(tf.add(p.base.weight, tf.mul(tf.matMul(p.loraA, p.loraB), p.scaling))));
        p.base.weightChanged();
        block[m.key] = p.base;
      }
    }
  });
  lora.dispose();
  model.lora = null;
  return model;
}
