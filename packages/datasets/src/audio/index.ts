export { type AudioClip, clipLength, clipDuration, downmixMean, flattenChannels } from './clip.js';
export { decodeWav, encodeWav, looksLikeWav, SAMPLE_RATE_BOUNDS, checkSampleRate, type WavEncodeOptions, type WavSampleFormat } from './wav.js';
export { writeWav } from './wav-file.js';
export { decodeAudio, sniffAudioContainer, type AudioContainer } from './decode.js';
export { decodeAudioFile } from './decode-file.js';
export { resample, resampleClip, type ResampleOptions } from './resample.js';
