/**
 * Shape of a TransformerMapper (msclap / Pengi / MATS). Defaults are the paper's: a 1024-d CLAP
 * embedding becomes 40 prefix vectors of GPT-2's width 768, through 8 pre-LayerNorm blocks with
 * 8 heads and MLP ratio 2.
 */
export interface MapperOptions {
  /** CLAP embedding size (input). Default 1024. */
  clapDim?: number;
  /** Transformer width (msclap: the LLM's embedding size). Default 768. */
  width?: number;
  /**
   * Output size of MATS's extra linear projection `width -> llmDim`. Undefined: no projection, the
   * output has `width` columns (msclap / Pengi). Defined: a projection exists, unless `projection`
   * is false (then llmDim must equal width).
   */
  llmDim?: number;
  /** Whether the output projection exists. Default: true exactly when llmDim is given. */
  projection?: boolean;
  /** Number of learnable query vectors (`prefix_const`) and of output vectors. Default 40. */
  prefixLength?: number;
  /** Number of vectors the input linear layer produces (`linear: clapDim -> clipLength * width`). Default 40. */
  clipLength?: number;
  /** Transformer blocks. Default 8. */
  layers?: number;
  /** Attention heads; must divide width. Default 8 (hard-coded in msclap). */
  heads?: number;
  /** MLP hidden size is trunc(width * mlpRatio), as Python's int(). Default 2. */
  mlpRatio?: number;
}

/** Every option resolved; `outDim` is the size of each output vector. */
export interface MapperConfig {
  clapDim: number;
  width: number;
  llmDim: number | undefined;
  projection: boolean;
  prefixLength: number;
  clipLength: number;
  layers: number;
  heads: number;
  mlpRatio: number;
  /** trunc(width * mlpRatio). */
  hidden: number;
  /** llmDim when projecting, else width. */
  outDim: number;
}

export const PAPER_DEFAULTS = {
  clapDim: 1024,
  width: 768,
  prefixLength: 40,
  clipLength: 40,
  layers: 8,
  heads: 8,
  mlpRatio: 2,
} as const;

/** LayerNorm epsilon of nn.LayerNorm's default. */
export const LAYER_NORM_EPS = 1e-5;

export function resolveConfig(options: MapperOptions = {}, source = 'mapper options'): MapperConfig {
  const int = (name: keyof MapperOptions, value: unknown): number => {
    if (!Number.isInteger(value) || (value as number) <= 0) {
      throw new Error(`${source}: ${name} must be a positive integer, got ${JSON.stringify(value)}`);
    }
    return value as number;
  };
  const clapDim = int('clapDim', options.clapDim ?? PAPER_DEFAULTS.clapDim);
  const width = int('width', options.width ?? PAPER_DEFAULTS.width);
  const prefixLength = int('prefixLength', options.prefixLength ?? PAPER_DEFAULTS.prefixLength);
  const clipLength = int('clipLength', options.clipLength ?? PAPER_DEFAULTS.clipLength);
  const layers = int('layers', options.layers ?? PAPER_DEFAULTS.layers);
  const heads = int('heads', options.heads ?? PAPER_DEFAULTS.heads);
  const mlpRatio = options.mlpRatio ?? PAPER_DEFAULTS.mlpRatio;
  if (typeof mlpRatio !== 'number' || !(mlpRatio > 0) || !Number.isFinite(mlpRatio)) {
    throw new Error(`${source}: mlpRatio must be a positive number, got ${JSON.stringify(mlpRatio)}`);
  }
  if (width % heads !== 0) throw new Error(`${source}: width ${width} is not divisible by heads ${heads}`);
  const hidden = Math.trunc(width * mlpRatio);
  if (hidden < 1) throw new Error(`${source}: width * mlpRatio = ${width * mlpRatio} gives an empty MLP`);
  const llmDim = options.llmDim === undefined ? undefined : int('llmDim', options.llmDim);
  const projection = options.projection ?? llmDim !== undefined;
  if (projection && llmDim === undefined) throw new Error(`${source}: projection is true but llmDim is not given`);
  if (!projection && llmDim !== undefined && llmDim !== width) {
    throw new Error(`${source}: projection is false, so llmDim (${llmDim}) must equal width (${width})`);
  }
  return {
    clapDim,
    width,
    llmDim,
    projection,
    prefixLength,
    clipLength,
    layers,
    heads,
    mlpRatio,
    hidden,
    outDim: projection ? (llmDim as number) : width,
  };
}

/** The options that rebuild this config (stored in saved files' metadata). */
export function configToOptions(config: MapperConfig): MapperOptions {
  const { clapDim, width, llmDim, projection, prefixLength, clipLength, layers, heads, mlpRatio } = config;
  return { clapDim, width, ...(llmDim === undefined ? {} : { llmDim }), projection, prefixLength, clipLength, layers, heads, mlpRatio };
}
