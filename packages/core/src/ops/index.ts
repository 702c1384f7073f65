/**
 * The custom-gradient ops shared by the mapper, GPT-2 + LoRA and the tiny CLAP. Every backward pass
 * is written out with flag-free products (explicit transpose, then a plain matMul), and frozen
 * weights are never kept transposed: the transposes are made inside the backward pass.
 */
export { customOp, type CustomOp } from './custom.js';
export { type LinearOptions, linear, linearConstantInput, loraLinear, residualAdd } from './linear.js';
export { type LayerNormOptions, layerNorm } from './norm.js';
export { type AttentionOptions, attention, attentionRows, splitHeads, mergeHeads } from './attention.js';
export { geluNew } from './activation.js';
export { gatherRows, packRows, unpackRows } from './rows.js';
export { type TiedHeadOptions, weightedCrossEntropy, tiedHeadLogits, tiedHeadCrossEntropy } from './loss.js';
