/**
 * @mats/clap/browser: the audio front end that runs in a web page (no node: modules, no tfjs, no
 * onnxruntime-node): msclap waveform preparation and the log-mel spectrogram.
 */
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
