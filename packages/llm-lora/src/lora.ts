/**
 * LoRA as PEFT does it: the adapter finds the model's projections whose names match
 * `target_modules` (PEFT's rule: the name equals a target or ends with `.${target}`), wraps each in
 * a LoraProjection that adds `scaling * B(A(dropout(x)))` to the frozen base, and keeps its own
 * state (LoraAdapter). The model knows nothing of LoRA. Weights are kept as A [in, r] and B [r, out]
 * (the layout the matmuls want) and written in PEFT's nn.Linear layout, lora_A.weight [r, in] and
 * lora_B.weight [out, r].
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertFiniteTensors, ops, parseJson, readSafetensors, writeSafetensors, writeFileAtomic, type Rng, type TensorToWrite } from '@mats/core';
import type { ForwardContext, ModuleHost, Projection } from './module.js';

export interface LoraConfig {
  /** Rank r (default 8). */
  r: number;
  /** lora_alpha (default 32); scaling = alpha / r. */
  alpha: number;
  /** Dropout on the LoRA input path during training (default 0.1). */
  dropout: number;
  /**
   * Module names to wrap, matched by suffix as PEFT does (default ['c_attn'], PEFT's GPT-2 default):
   * for GPT-2, `c_attn`, `c_fc`, `c_proj` (both attn.c_proj and mlp.c_proj), or longer suffixes such
   * as `attn.c_proj` or `h.0.attn.c_attn`.
   */
  targetModules: string[];
}

export const DEFAULT_LORA: LoraConfig = { r: 8, alpha: 32, dropout: 0.1, targetModules: ['c_attn'] };

/** A linear projection LoRA can wrap: x @ weight + bias with weight [in, out] (HF Conv1D layout). */
export interface LinearProjection extends Projection {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable | null;
}

const isLinear = (m: Projection): m is LinearProjection => {
  const w = (m as Partial<LinearProjection>).weight;
  return typeof w === 'object' && w !== null && Array.isArray(w.shape) && w.shape.length === 2 && typeof w.assign === 'function';
};

/** PEFT's check_target_module_exists for a list of targets: exact name or `.${target}` suffix. */
export function matchesTarget(name: string, targets: string[]): boolean {
  return targets.some((t) => name === t || name.endsWith(`.${t}`));
}

/** A frozen linear plus a low-rank update (PEFT's lora.Linear). */
export class LoraProjection implements Projection {
  constructor(
    readonly base: LinearProjection,
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
    const { weight, bias } = this.base;
    const out = ops.loraLinear(x2d, weight as tf.Tensor2D, bias as tf.Tensor1D | null, this.loraA as tf.Tensor2D, this.loraB as tf.Tensor2D, this.scaling, mask, ctx.transposeOf?.(weight) ?? null);
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

/** The adapter's own state: its config and the wrapped modules by name. */
export class LoraAdapter {
  private disposed = false;

  constructor(
    readonly config: LoraConfig,
    /** Wrapped modules by name, e.g. `h.0.attn.c_attn`, in the model's module order. */
    readonly layers: Map<string, LoraProjection>,
  ) {}

  /** The trainable tensors, A and B of every wrapped module, in a stable order. */
  variables(): tf.Variable[] {
    const out: tf.Variable[] = [];
    for (const l of this.layers.values()) out.push(l.loraA, l.loraB);
    return out;
  }

  /** Number of trainable scalars. */
  get parameterCount(): number {
    return this.variables().reduce((n, v) => n + v.size, 0);
  }

  /** Frees A and B (the model's modules stay wrapped: merge or dispose the model too). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
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
  if (!Array.isArray(config.targetModules) || !config.targetModules.length) throw new Error(`${source}: target_modules is empty`);
}

/** Wraps every module matching the targets; A and B from `makeAB(name, in, out)`. */
function wrap(model: ModuleHost, config: LoraConfig, source: string, makeAB: (name: string, inDim: number, outDim: number) => [Float32Array, Float32Array]): LoraAdapter {
  checkConfig(config, source);
  const modules = model.namedModules();
  const matched = modules.filter(([name]) => matchesTarget(name, config.targetModules));
  for (const t of config.targetModules) {
    if (!modules.some(([name]) => matchesTarget(name, [t]))) {
      const leaves = [...new Set(modules.map(([n]) => n.split('.').pop()))].join(', ');
      throw new Error(`${source}: target module "${t}" matches no module of the model (module names end in ${leaves})`);
    }
  }
  for (const [name, m] of matched) {
    if (m instanceof LoraProjection) throw new Error(`${source}: module "${name}" already has a LoRA adapter (merge it first)`);
    if (!isLinear(m)) throw new Error(`${source}: module "${name}" is not a linear projection LoRA can wrap`);
  }
  const layers = new Map<string, LoraProjection>();
  const scaling = config.alpha / config.r;
  for (const [name, m] of matched) {
    const base = m as LinearProjection;
    const [inDim, outDim] = base.weight.shape;
    const [a, b] = makeAB(name, inDim, outDim);
    const wrapped = new LoraProjection(base, tf.variable(tf.tensor2d(a, [inDim, config.r]), true), tf.variable(tf.tensor2d(b, [config.r, outDim]), true), scaling, config.dropout);
    layers.set(name, wrapped);
  }
  for (const [name, wrapped] of layers) model.setModule(name, wrapped);
  return new LoraAdapter(config, layers);
}

/**
 * Adds a fresh adapter: A Kaiming-uniform (PEFT: kaiming_uniform_(a=sqrt(5)), i.e. U(+-1/sqrt(in))),
 * B zeros, so the model's outputs do not change until B is trained. Base weights stay frozen.
 */
export function applyLora(model: ModuleHost, config: Partial<LoraConfig>, rng: Rng): LoraAdapter {
  const full: LoraConfig = { ...DEFAULT_LORA, ...config };
  return wrap(model, full, 'applyLora', (_name, inDim, outDim) => {
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
export async function saveLora(adapter: LoraAdapter, dir: string, baseModelName = 'gpt2'): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const tensors = new Map<string, TensorToWrite>();
  for (const [name, layer] of adapter.layers) {
    const [inDim, r] = layer.loraA.shape as [number, number];
    const outDim = layer.loraB.shape[1] as number;
    tensors.set(`${PEFT_PREFIX}${name}.lora_A.weight`, { data: transpose((await layer.loraA.data()) as Float32Array, inDim, r), shape: [r, inDim] });
    tensors.set(`${PEFT_PREFIX}${name}.lora_B.weight`, { data: transpose((await layer.loraB.data()) as Float32Array, r, outDim), shape: [outDim, r] });
  }
  const c = adapter.config;
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
export function loadLora(model: ModuleHost, dir: string): LoraAdapter {
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
  const weightsPath = join(dir, 'adapter_model.safetensors');
  checkConfig(config, configPath);
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
  return wrap(model, config, configPath, (name, inDim, outDim) => {
    const a = get(`${prefix}${name}.lora_A.weight`, [config.r, inDim]);
    const b = get(`${prefix}${name}.lora_B.weight`, [outDim, config.r]);
    return [transpose(a, config.r, inDim), transpose(b, outDim, config.r)];
  });
}

/**
 * PEFT's merge_and_unload: folds the adapter into the base weights (W += scaling * A @ B, Conv1D
 * layout), puts the base modules back and frees the adapter, so inference costs what the base
 * model costs.
 */
export function mergeLora(model: ModuleHost, adapter: LoraAdapter): void {
  const current = new Map(model.namedModules());
  for (const [name, layer] of adapter.layers) {
    if (current.get(name) !== layer) throw new Error(`mergeLora: module "${name}" of the model is not this adapter's wrapper (applied to another model, or already merged?)`);
  }
  for (const [name, layer] of adapter.layers) {
    const w = layer.base.weight;
    tf.tidy(() => w.assign(tf.add(w, tf.mul(tf.matMul(layer.loraA, layer.loraB), layer.scaling))));
    model.setModule(name, layer.base);
  }
  adapter.dispose();
}
