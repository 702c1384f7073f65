/** GPT-2 hyperparameters, read from and written to Hugging Face `config.json` keys. */
export interface Gpt2Config {
  vocabSize: number;
  nPositions: number;
  nEmbd: number;
  nLayer: number;
  nHead: number;
  /** MLP hidden width; HF `n_inner` (null means 4 * n_embd). */
  nInner: number;
  layerNormEpsilon: number;
  /** End-of-text id (HF `eos_token_id`, 50256 for GPT-2). */
  eosTokenId: number;
}

/** Activations with GPT-2's tanh-approximated GELU; HF spells it two ways. */
const SUPPORTED_ACTIVATIONS = new Set(['gelu_new', 'gelu_pytorch_tanh']);

/** Fills defaults and checks that the numbers make a valid GPT-2. */
export function makeConfig(partial: Partial<Gpt2Config> & Pick<Gpt2Config, 'vocabSize' | 'nEmbd' | 'nLayer' | 'nHead'>): Gpt2Config {
  const config: Gpt2Config = {
    nPositions: 1024,
    layerNormEpsilon: 1e-5,
    nInner: 4 * partial.nEmbd,
    eosTokenId: partial.vocabSize - 1,
    ...partial,
  };
  for (const key of ['vocabSize', 'nPositions', 'nEmbd', 'nLayer', 'nHead', 'nInner'] as const) {
    const v = config[key];
    if (!Number.isInteger(v) || v <= 0) throw new Error(`GPT-2 config: ${key} must be a positive integer, got ${v}`);
  }
  if (config.nEmbd % config.nHead !== 0) throw new Error(`GPT-2 config: n_embd (${config.nEmbd}) must be divisible by n_head (${config.nHead})`);
  if (!(config.layerNormEpsilon > 0)) throw new Error(`GPT-2 config: layer_norm_epsilon must be > 0, got ${config.layerNormEpsilon}`);
  if (!Number.isInteger(config.eosTokenId) || config.eosTokenId < 0 || config.eosTokenId >= config.vocabSize) {
    throw new Error(`GPT-2 config: eos_token_id ${config.eosTokenId} is outside the vocabulary [0, ${config.vocabSize})`);
  }
  return config;
}

/** Parses a Hugging Face GPT-2 `config.json` object; `source` names the file in errors. */
export function configFromHf(json: Record<string, unknown>, source = 'config.json'): Gpt2Config {
  const int = (key: string, fallback?: number): number => {
    const v = json[key];
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      throw new Error(`${source}: missing field "${key}"`);
    }
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new Error(`${source}: field "${key}" must be a positive integer, got ${JSON.stringify(v)}`);
    return v;
  };
  const modelType = json.model_type;
  if (modelType !== undefined && modelType !== 'gpt2') throw new Error(`${source}: field "model_type" is ${JSON.stringify(modelType)}, only "gpt2" is supported`);
  const activation = json.activation_function ?? 'gelu_new';
  if (typeof activation !== 'string' || !SUPPORTED_ACTIVATIONS.has(activation)) {
    throw new Error(`${source}: field "activation_function" is ${JSON.stringify(activation)}, expected "gelu_new"`);
  }
  const nEmbd = int('n_embd');
  const eps = json.layer_norm_epsilon ?? 1e-5;
  if (typeof eps !== 'number' || !(eps > 0)) throw new Error(`${source}: field "layer_norm_epsilon" must be a positive number, got ${JSON.stringify(eps)}`);
  const vocabSize = int('vocab_size');
  return makeConfig({
    vocabSize,
    nPositions: int('n_positions', 1024),
    nEmbd,
    nLayer: int('n_layer'),
    nHead: int('n_head'),
    nInner: int('n_inner', 4 * nEmbd),
    layerNormEpsilon: eps,
    eosTokenId: typeof json.eos_token_id === 'number' ? json.eos_token_id : vocabSize - 1,
  });
}

/** The Hugging Face `config.json` object for a config (loadable by transformers' GPT2LMHeadModel). */
export function configToHf(config: Gpt2Config): Record<string, unknown> {
  return {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    vocab_size: config.vocabSize,
    n_positions: config.nPositions,
    n_ctx: config.nPositions,
    n_embd: config.nEmbd,
    n_layer: config.nLayer,
    n_head: config.nHead,
    n_inner: config.nInner,
    activation_function: 'gelu_new',
    layer_norm_epsilon: config.layerNormEpsilon,
    resid_pdrop: 0.1,
    embd_pdrop: 0.1,
    attn_pdrop: 0.1,
    initializer_range: 0.02,
    bos_token_id: config.eosTokenId,
    eos_token_id: config.eosTokenId,
    tie_word_embeddings: true,
  };
}
