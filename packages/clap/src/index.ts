/** @mats/clap: see README.md. The public API is assembled here. */
export const PACKAGE_NAME = '@mats/clap';
export { type ClapEncoder, batchRanges, embedEach } from './encoder.js';
export {
  MSCLAP_SAMPLE_RATE,
  MSCLAP_CLIP_SAMPLES,
  type ChannelMode,
  type WaveformPrepOptions,
  validateClip,
  fitLength,
  prepareWaveform,
  prepareSourceWaveform,
} from './audio-prep.js';
export { embedAudioFiles, prepareFileWaveform } from './audio-files.js';
export {
  END_OF_TEXT,
  END_OF_TEXT_ID,
  MSCLAP_PAD_ID,
  MSCLAP_TEXT_LENGTH,
  type ClapTextBatch,
  type TextPrepOptions,
  gpt2Encode,
  prepareClapText,
} from './text-prep.js';
export { ONNX_CONTRACT, OnnxClap, type OnnxClapOptions, type OnnxSessionOptions } from './onnx-clap.js';
export {
  type MelOptions,
  type MelSpectrogram,
  MSCLAP_MEL,
  RealFft,
  LogMel,
  logMelSpectrogram,
  slaneyMelFilterbank,
  hzToMel,
  melToHz,
  hannWindow,
  frameCount,
} from './mel.js';
export { WordTokenizer, splitWords, PAD_ID, UNK_ID } from './tiny/tokenizer.js';
export { type TinyClapConfig, DEFAULT_TINY_CONFIG, parameterShapes } from './tiny/model.js';
export { TinyClapFeatures } from './tiny/features.js';
export { TinyClap, type TinyClapOptions, validateTinyConfig, TINY_CONFIG_FILE, TINY_WEIGHTS_FILE } from './tiny/tiny-clap.js';
export { trainTinyClap, type TrainingPair, type TinyClapTrainOptions, type EpochInfo } from './tiny/train.js';
export { ZERO_SHOT_TEMPLATE, type ZeroShotResult, zeroShotClassify, cosineSimilarities, argmaxRows } from './zero-shot.js';
export { type ClapSpec, loadClap, TINY_CLAP_WORLD_DIR } from './load.js';
