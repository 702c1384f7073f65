import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { readSafetensors, getFloatTensor } from '@mats/core';
import { encodeWav } from '@mats/datasets';
import { runCli } from './cli-main.js';

// The CLI is run from dist/ (nx builds before testing).
const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
const spawnCli = promisify(execFile);

/** Runs the CLI in-process (fast); one test below also runs the real bin. */
async function run(_node: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args.slice(1), { log: (l) => out.push(l), error: (l) => err.push(l) });
  const result = { stdout: out.join('\n'), stderr: err.join('\n') };
  if (code !== 0) throw Object.assign(new Error(`exit ${code}`), { code, ...result });
  return result;
}
const onnxArgs = ['--onnx-audio', fixture('tiny_audio.onnx'), '--onnx-text', fixture('tiny_text.onnx')];
const ref = readSafetensors(fixture('onnx_reference.safetensors'));

describe('mats-clap CLI', { timeout: 300_000 }, () => {
  it('embed-text writes the reference embeddings to safetensors', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'clap-cli-'));
    try {
      const out = join(dir, 'text.safetensors');
      const texts: string[] = JSON.parse(ref.metadata.texts);
      await run('node', [cli, 'embed-text', ...onnxArgs, '--out', out, ...texts.flatMap((t) => ['--text', t])]);
      const file = readSafetensors(out);
      const got = getFloatTensor(file, 'embeddings', [3, 1024]);
      const want = getFloatTensor(ref, 'text_batch3');
      let max = 0;
      for (let i = 0; i < want.length; i++) max = Math.max(max, Math.abs(got[i] - want[i]));
      expect(max).toBeLessThan(1e-4);
      expect(JSON.parse(file.metadata.texts)).toEqual(texts);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('embed-audio and zero-shot read audio files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'clap-cli-'));
    try {
      const wav = join(dir, 'a.wav');
      writeFileSync(wav, encodeWav({ sampleRate: 44100, channels: [getFloatTensor(ref, 'clip_a')] }, { format: 'float32' }));
      const out = join(dir, 'audio.safetensors');
      await run('node', [cli, 'embed-audio', ...onnxArgs, '--out', out, wav]);
      const got = getFloatTensor(readSafetensors(out), 'embeddings', [1, 1024]);
      const want = getFloatTensor(ref, 'audio_batch1');
      let max = 0;
      for (let i = 0; i < want.length; i++) max = Math.max(max, Math.abs(got[i] - want[i]));
      expect(max).toBeLessThan(1e-4);
      const { stdout } = await run('node', [cli, 'zero-shot', ...onnxArgs, '--labels', 'siren,dog bark', wav]);
      const line = JSON.parse(stdout.trim());
      expect(line.file).toBe(wav);
      expect(['siren', 'dog bark']).toContain(line.label);
      expect(Object.keys(line.scores)).toEqual(['siren', 'dog bark']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('exits 2 with usage on bad arguments, 1 with the file on a missing model', async () => {
    await expect(run('node', [cli, 'zero-shot', ...onnxArgs, 'x.wav'])).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('zero-shot needs --labels') });
    // the installed bin (dist/cli.js with its shebang) sets the exit code too
    await expect(spawnCli('node', [cli, 'frobnicate'])).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('unknown command "frobnicate"') });
    await expect(run('node', [cli, 'embed-text', '--onnx-audio', 'missing.onnx', '--onnx-text', fixture('tiny_text.onnx'), '--out', '/tmp/x.safetensors', '--text', 'hi'])).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('missing.onnx: audio model file not found'),
    });
  });

  it('embed-audio and zero-shot name the file of a NaN, Inf or empty clip (the tiny CLAP and the ONNX route)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'clap-cli-'));
    try {
      const good = join(dir, 'good.wav');
      writeFileSync(good, encodeWav({ sampleRate: 16000, channels: [Float32Array.from({ length: 8000 }, (_, i) => Math.sin(i / 9))] }));
      const nan = join(dir, 'nan.wav');
      writeFileSync(nan, encodeWav({ sampleRate: 16000, channels: [Float32Array.from({ length: 8000 }, (_, i) => (i === 4321 ? NaN : 0.1))] }, { format: 'float32' }));
      const inf = join(dir, 'inf.wav');
      writeFileSync(inf, encodeWav({ sampleRate: 16000, channels: [Float32Array.from({ length: 8000 }, (_, i) => (i === 17 ? -Infinity : 0.1))] }, { format: 'float32' }));
      const empty = join(dir, 'empty.wav');
      writeFileSync(empty, encodeWav({ sampleRate: 16000, channels: [new Float32Array(0)] }));
      const out = join(dir, 'audio.safetensors');
      for (const model of [[], onnxArgs]) {
        await expect(run('node', [cli, 'embed-audio', ...model, '--out', out, good, good, nan])).rejects.toMatchObject({ code: 1, stderr: `mats-clap: ${nan}: float sample 4321 of channel 0 is NaN (a corrupt file)` });
        await expect(run('node', [cli, 'embed-audio', ...model, '--out', out, good, inf])).rejects.toMatchObject({ code: 1, stderr: `mats-clap: ${inf}: float sample 17 of channel 0 is -Infinity (a corrupt file)` });
        await expect(run('node', [cli, 'zero-shot', ...model, '--labels', 'a,b', good, empty])).rejects.toMatchObject({ code: 1, stderr: `mats-clap: ${empty}: the WAV data chunk holds no samples (an empty clip)` });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
