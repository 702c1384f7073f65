import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createEmbeddings } from '@mats/core';
import { writeWav } from '@mats/datasets';
import { buildMemory } from '@mats/santa';
import type { ClapEncoder } from '@mats/clap';
import { tryPicture, writeFigure3 } from './figures.js';
import { presets } from './presets.js';
import { appendMetrics, cleanCheckpointTemps, lastMetricValue, latestCheckpoint, lockFileOf, lockRun, readJson, readMetrics, repairMetrics, truncateMetrics, writeCheckpoint } from './runs.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'mats-faults-'));

/** The pid of a process that has exited (so a lock naming it is stale). */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

describe('metrics.jsonl under faults', () => {
  it('a partial last line (disk full or kill mid-write) is dropped on resume; whole lines are kept', () => {
    const run = tmp();
    for (const step of [1, 2, 3]) appendMetrics(run, { step, loss: step / 10 });
    writeFileSync(join(run, 'metrics.jsonl'), `${readFileSync(join(run, 'metrics.jsonl'), 'utf8')}{"step": 4, "lo`);
    expect(() => readMetrics(run)).toThrow(/metrics.jsonl: line 4 is not JSON/);
    truncateMetrics(run, 3); // what --resume from the step-3 checkpoint does
    expect(readMetrics(run).map((m) => m.step)).toEqual([1, 2, 3]);
    expect(readFileSync(join(run, 'metrics.jsonl'), 'utf8').endsWith('\n')).toBe(true);
  });

  it('repairMetrics keeps a whole last record that only lacks its newline, and leaves a bad middle line an error', () => {
    const run = tmp();
    writeFileSync(join(run, 'metrics.jsonl'), '{"step":1}\n{"step":2}');
    expect(repairMetrics(run)).toBeNull();
    expect(readFileSync(join(run, 'metrics.jsonl'), 'utf8')).toBe('{"step":1}\n{"step":2}\n');
    writeFileSync(join(run, 'metrics.jsonl'), '{"step":1}\n{"st\n{"step":3}\n');
    expect(repairMetrics(run)).toBeNull();
    expect(() => readMetrics(run)).toThrow(/line 2 is not JSON/);
    writeFileSync(join(run, 'metrics.jsonl'), '{"step":1}\n{"st');
    expect(repairMetrics(run)).toBe('{"st');
  });

  it.skipIf(!existsSync('/dev/full'))('a failed append (ENOSPC on /dev/full) names the file and leaves no partial line', () => {
    const run = tmp();
    symlinkSync('/dev/full', join(run, 'metrics.jsonl'));
    expect(() => appendMetrics(run, { step: 1, loss: 0.5 })).toThrow(`${join(run, 'metrics.jsonl')}: cannot append a metrics line (ENOSPC)`);
  });
});

describe('lastMetricValue', () => {
  it('finds the last logged loss (the summary of a run resumed from its final checkpoint)', () => {
    const m = [{ step: 1, loss: 0.9 }, { step: 2, loss: 0.7 }, { step: 2, validationLoss: 0.8 }];
    expect(lastMetricValue(m, 'loss')).toBe(0.7);
    expect(lastMetricValue(m, 'validationLoss')).toBe(0.8);
    expect(lastMetricValue([], 'loss')).toBeNull();
  });
});

describe('checkpoints under faults', () => {
  it('a failed checkpoint write removes its temporary folder, names the file it was writing, and keeps the previous checkpoint', async () => {
    const run = tmp();
    await writeCheckpoint(run, 5, (dir) => writeFileSync(join(dir, 'w.txt'), '5'), 2);
    const failing = (dir: string) => {
      writeFileSync(join(dir, 'mapper.safetensors'), 'partial');
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    };
    const err = await writeCheckpoint(run, 6, failing, 2).catch((e: Error) => e);
    expect((err as Error).message).toMatch(/^checkpoint step 6 of .* not written \(failed while writing .*\.step-00000006\.\d+\.tmp\/mapper\.safetensors\): ENOSPC: no space left on device, write; the previous checkpoint is kept$/);
    expect(readdirSync(join(run, 'checkpoints')).sort()).toEqual(['latest.json', 'step-00000005']);
    expect(latestCheckpoint(run)!.step).toBe(5);
  });

  it('cleanCheckpointTemps removes what a killed writer left', () => {
    const run = tmp();
    mkdirSync(join(run, 'checkpoints', '.step-00000007.12345.tmp'), { recursive: true });
    writeFileSync(join(run, 'checkpoints', '.step-00000007.12345.tmp', 'mapper.safetensors'), 'x');
    expect(cleanCheckpointTemps(run)).toEqual([join(run, 'checkpoints', '.step-00000007.12345.tmp')]);
    expect(readdirSync(join(run, 'checkpoints'))).toEqual([]);
    expect(cleanCheckpointTemps(tmp())).toEqual([]);
  });
});

describe('run lock', () => {
  it('a second lock on a live run is refused naming the holder; release frees it', () => {
    const run = join(tmp(), 'world');
    const lock = lockRun(run);
    expect(lock.file).toBe(lockFileOf(run));
    expect(JSON.parse(readFileSync(lock.file, 'utf8')).pid).toBe(process.pid);
    expect(() => lockRun(run)).toThrow(`run folder ${run} is in use by process ${process.pid}`);
    lock.release();
    expect(existsSync(lock.file)).toBe(false);
    lockRun(run).release();
  });

  it('a lock left by a process that is gone (kill -9) is stale and taken over', () => {
    const run = join(tmp(), 'world');
    writeFileSync(lockFileOf(run), JSON.stringify({ pid: deadPid(), host: undefined, startedAt: 'earlier' }));
    const lock = lockRun(run);
    expect(JSON.parse(readFileSync(lock.file, 'utf8')).pid).toBe(process.pid);
    lock.release();
    writeFileSync(lockFileOf(run), ''); // torn while being written
    lockRun(run).release();
  });

  it('the lock lies beside the run folder, so deleting the folder (--overwrite) keeps it', () => {
    const runs = tmp();
    expect(lockFileOf(join(runs, 'world'))).toBe(join(runs, '.world.lock'));
  });
});

describe('JSON inputs', () => {
  it('readJson and latest.json accept a UTF-8 byte-order mark', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'a.json'), '\ufeff{"x": [1, 2]}');
    expect(readJson(join(dir, 'a.json'))).toEqual({ x: [1, 2] });
    await writeCheckpoint(dir, 3, () => {}, 1);
    writeFileSync(join(dir, 'checkpoints', 'latest.json'), `\ufeff${readFileSync(join(dir, 'checkpoints', 'latest.json'), 'utf8')}`);
    expect(latestCheckpoint(dir)!.step).toBe(3);
  });
});

describe('pictures never fail a finished run', () => {
  // A stand-in CLAP: 4-dimensional embeddings from simple statistics (enough to draw panels).
  const clap: ClapEncoder = {
    dim: 4,
    batchSize: 4,
    embedAudio: async (clips) => {
      const e = createEmbeddings(clips.length, 4);
      clips.forEach((c, i) => e.data.set([1, c.channels[0][0] + 0.1 * i, c.channels[0].length / 1000, 0.5], i * 4));
      return e;
    },
    embedText: async (texts) => {
      const e = createEmbeddings(texts.length, 4);
      texts.forEach((t, i) => e.data.set([0.5, t.length / 10, 0.1 * i, 1], i * 4));
      return e;
    },
    dispose: async () => {},
  } as ClapEncoder;

  it('unreadable clips are skipped and listed; the readable pairs are drawn', async () => {
    const dir = tmp();
    const pairs: { text: string; audio: string }[] = [];
    for (let i = 0; i < 6; i++) {
      const audio = join(dir, `clip-${i}.wav`);
      writeWav(audio, { sampleRate: 16000, channels: [new Float32Array(800).fill(0.01 * (i + 1))] });
      pairs.push({ text: `a sound number ${i}`, audio });
    }
    pairs.push({ text: 'missing', audio: join(dir, 'missing.wav') });
    writeFileSync(join(dir, 'not-audio.wav'), 'this is text');
    pairs.push({ text: 'not audio', audio: join(dir, 'not-audio.wav') });
    const config = presets.world();
    const memoryTexts = createEmbeddings(8, 4);
    for (let i = 0; i < 32; i++) memoryTexts.data[i] = Math.sin(i + 1);
    const memory = buildMemory(memoryTexts, { k: 2, seed: 1 });
    const stats = await writeFigure3(join(dir, 'figure3.png'), clap, memory, pairs, config);
    expect(stats.pairs).toBe(6);
    expect(stats.skippedClips.map((s) => s.audio)).toEqual([join(dir, 'missing.wav'), join(dir, 'not-audio.wav')]);
    expect(stats.skippedClips[0].reason).toContain('missing.wav');
    expect(existsSync(join(dir, 'figure3.png'))).toBe(true);
  });

  it('with no readable clip nothing is drawn and nothing throws', async () => {
    const dir = tmp();
    const pairs = Array.from({ length: 12 }, (_, i) => ({ text: `t${i}`, audio: join(dir, `gone-${i}.wav`) }));
    const memory = buildMemory(createEmbeddings(4, 4, new Float32Array(16).map((_, i) => Math.cos(i))), { k: 1, seed: 1 });
    const stats = await writeFigure3(join(dir, 'figure3.png'), clap, memory, pairs, presets.world());
    expect(stats.pairs).toBe(0);
    expect(stats.skippedClips).toHaveLength(12);
    expect(existsSync(join(dir, 'figure3.png'))).toBe(false);
  });

  it('tryPicture turns a failing writer into a message', async () => {
    expect(await tryPicture('loss.png', async () => {})).toBeNull();
    expect(await tryPicture('loss.png', async () => { throw new Error('ENOSPC: no space left on device\nstack'); })).toBe('loss.png: ENOSPC: no space left on device');
  });
});
