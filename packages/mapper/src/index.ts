/** @mats/mapper: the MATS TransformerMapper (CLAP embedding -> LLM prefix) in tfjs. See README.md. */
export { type MapperOptions, type MapperConfig, PAPER_DEFAULTS, LAYER_NORM_EPS, resolveConfig } from './config.js';
export {
  TransformerMapper,
  type ForwardOptions,
  type MapperOutput,
  type WeightNames,
  type LoadMapperOptions,
  CONFIG_METADATA_KEY,
  createMapper,
  loadMapper,
} from './mapper.js';
export { pytorchTensorSpecs } from './weights.js';
