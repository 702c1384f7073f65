import type { Rng } from '@mats/core';
import type { AudioClip } from '@mats/datasets/browser';
import { prepareWaveform, type WaveformPrepOptions } from '../audio-prep.js';
import { prepareFileWaveform } from '../audio-files.js';
import { LogMel } from '../mel.js';
import type { TinyClapConfig } from './model.js';

/**
 * The tiny CLAP's audio front end, shared by `TinyClap` (tfjs) and an export folder's ONNX tiny CLAP:
 * a clip, or an audio file read only as far as its crop needs, becomes the model's input signal (mean
 * downmix, resample to config.sampleRate with torchaudio's resampler, tile or seeded crop to
 * clipSeconds) and then log-mel frames, row-major [frames, nMels] per clip.
 */
export class TinyClapFeatures {
  readonly logMel: LogMel;
  /** Samples per clip after preparation. */
  readonly clipSamples: number;
  /** Frames of the log-mel of one prepared clip. */
  readonly frames: number;
  readonly nMels: number;

  constructor(config: TinyClapConfig) {
    this.logMel = new LogMel({ sampleRate: config.sampleRate, ...config.mel });
    this.clipSamples = Math.round(config.sampleRate * config.clipSeconds);
    this.frames = this.logMel.frames(this.clipSamples);
    this.nMels = config.mel.nMels;
    this.waveformOptions = { sampleRate: config.sampleRate, samples: this.clipSamples, channelMode: 'mean' };
  }

  /** How a clip becomes the input signal (prepareWaveform's options). */
  readonly waveformOptions: WaveformPrepOptions;

  /** One clip -> the input signal; `name` (a path, or the clip's index) is named in errors. */
  prepareClip(clip: AudioClip, rng: Rng, name: string | number = 0): Float32Array {
    return prepareWaveform(clip, rng, this.waveformOptions, name);
  }

  /** Log-mel features of clips [clips, frames, nMels]; crops drawn from `rng` in clip order. */
  ofClips(clips: AudioClip[], rng: Rng): Float32Array {
    const per = this.frames * this.nMels;
    const out = new Float32Array(clips.length * per);
    clips.forEach((clip, i) => this.logMel.compute(this.prepareClip(clip, rng, i), out.subarray(i * per, (i + 1) * per)));
    return out;
  }

  /** The same of audio files, read one at a time (errors name the path): equal to `ofClips` of the decoded files. */
  async ofFiles(paths: string[], rng: Rng): Promise<Float32Array> {
    const per = this.frames * this.nMels;
    const out = new Float32Array(paths.length * per);
    for (let i = 0; i < paths.length; i++) {
      this.logMel.compute(await prepareFileWaveform(paths[i], rng, this.waveformOptions), out.subarray(i * per, (i + 1) * per));
    }
    return out;
  }
}
