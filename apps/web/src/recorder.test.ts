import { describe, expect, it } from 'vitest';
import { resample } from '@mats/datasets/browser';
import { joinChunks, microphoneError, recordingFrames } from './recorder.js';

describe('recordingFrames', () => {
  it('one 2 s CLAP clip at 16 kHz: 88200 frames at 44.1 kHz, 96000 at 48 kHz', () => {
    expect(recordingFrames(32000, 16000, 44100)).toBe(88200);
    expect(recordingFrames(32000, 16000, 48000)).toBe(96000);
  });

  it('rounds down, so the resampled recording is never longer than the clip (it would be cropped at random)', () => {
    for (const rate of [8000, 11025, 22050, 44100, 48000, 96000, 37000]) {
      const frames = recordingFrames(32000, 16000, rate);
      const out = resample(new Float32Array(frames), rate, 16000).length;
      expect(out, `${rate} Hz`).toBeLessThanOrEqual(32000);
      expect(out, `${rate} Hz`).toBeGreaterThanOrEqual(31999);
    }
  });
});

describe('joinChunks', () => {
  it('joins the chunks end to end and cuts at the limit', () => {
    const chunks = [Float32Array.from([1, 2, 3]), Float32Array.from([4, 5, 6]), Float32Array.from([7])];
    expect(Array.from(joinChunks(chunks, 5))).toEqual([1, 2, 3, 4, 5]);
    expect(Array.from(joinChunks(chunks, 100))).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(joinChunks([], 10)).toHaveLength(0);
  });
});

describe('microphoneError', () => {
  it('says what went wrong by the DOMException name, and keeps the browser text', () => {
    expect(microphoneError({ name: 'NotAllowedError', message: 'Permission denied' })).toBe(
      'Could not record from the microphone: the page is not allowed to use the microphone (permission denied); allow it for this site and try again (NotAllowedError: Permission denied)',
    );
    expect(microphoneError({ name: 'NotFoundError', message: 'Requested device not found' })).toMatch(/^Could not record from the microphone: no microphone was found \(NotFoundError/);
    expect(microphoneError(new Error('odd'))).toBe('Could not record from the microphone: the browser refused (Error: odd)');
  });
});
