export { type AudioClip, clipLength, clipDuration, downmixMean, flattenChannels } from './clip.js';
export { decodeWav, encodeWav, writeWav, looksLikeWav, SAMPLE_RATE_BOUNDS, checkSampleRate, type WavEncodeOptions, type WavSampleFormat } from './wav.js';
export { decodeAudio, decodeAudioFile, sniffAudioContainer, type AudioContainer } from './decode.js';
export { resample, resampleClip, type ResampleOptions } from './resample.js';
