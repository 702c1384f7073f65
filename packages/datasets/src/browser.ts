/**
 * @mats/datasets/browser: the parts that run in a web page (no node: modules): audio decoding from
 * bytes, resampling, channel handling, WAV encoding, and the instruction templates.
 */
export { type AudioClip, type AudioSource, clipLength, clipDuration, downmixMean, flattenChannels, clipSource, checkFrameRange } from './audio/clip.js';
export { decodeWav, encodeWav, looksLikeWav, type WavEncodeOptions, type WavSampleFormat } from './audio/wav.js';
export { decodeAudio, sniffAudioContainer, type AudioContainer } from './audio/decode.js';
export { resample, resampleClip, resampledLength, resampleInputRange, resampleRange, type ResampleOptions } from './audio/resample.js';
export { classificationInstruction, captionInstruction, classificationAnswer, mmauPrompt, type MmauPromptOptions } from './templates.js';
export type { WorldManifest, ClassificationItem, CaptionItem, AqaItem, MmauItem } from './soundworld/generate.js';
