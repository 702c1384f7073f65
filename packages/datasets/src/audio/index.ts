export { type AudioClip, type AudioSource, clipLength, clipDuration, downmixMean, flattenChannels, clipSource, checkFrameRange } from './clip.js';
export { decodeWav, decodeWavFrames, parseWavLayout, type WavFormat, type WavLayout, encodeWav, looksLikeWav, SAMPLE_RATE_BOUNDS, checkSampleRate, type WavEncodeOptions, type WavSampleFormat } from './wav.js';
export { writeWav } from './wav-file.js';
export { decodeAudio, sniffAudioContainer, type AudioContainer } from './decode.js';
export { decodeAudioFile, openAudioFile, type OpenAudioOptions } from './decode-file.js';
export { resample, resampleClip, resampledLength, resampleInputRange, resampleRange, type ResampleOptions } from './resample.js';
