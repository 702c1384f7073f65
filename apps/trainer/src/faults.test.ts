/**
 * Fault injection on the public train(): kill -9 during training and during a checkpoint write,
 * disk full (a small tmpfs, where this machine lets us mount one), two trainings of one run folder,
 * and NaN weights. After each fault the run resumes to the bytes of an uninterrupted run.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { type FSWatcher, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, watch } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng, readSafetensors, writeSafetensors } from '@mats/core';
import { createMapper, loadMapper } from '@mats/mapper';
import { applyLora, createCausalLM, loadCausalLM, loadLora, makeConfig, saveCausalLM, saveLora } from '@mats/llm-lora';
import { lockFileOf, readMetrics } from '@mats/app-shared';
import { makeData, quiet, standInClap, standInLlm, tinyConfig } from '../test/fixtures.js';
import { train } from './train.js';

const STEPS = 8;
const child = fileURLToPath(new URL('../test/fault-child.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'mats-faults-'));
let texts: string[] = [];
let reference = '';

const components = () => ({ clap: standInClap(), llm: standInLlm(texts) });
const bytes = (run: string, file: string) => readFileSync(join(run, file));

const childOutput = new Map<ChildProcess, string>();
function startChild(name: string, steps = STEPS): ChildProcess {
  const proc = spawn(process.execPath, ['--import', 'tsx', child, dir, name, String(steps)], { cwd: fileURLToPath(new URL('..', import.meta.url)), stdio: ['ignore', 'pipe', 'pipe'] });
  childOutput.set(proc, '');
  const keep = (chunk: Buffer) => childOutput.set(proc, `${childOutput.get(proc)}${chunk.toString()}`.slice(-2000));
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  return proc;
}

/**
 * Resolves with the first entry of `folder` for which `predicate` holds, as soon as it appears: the
 * folder is polled every 2 ms until it exists (creating it would change what the trainer sees), then
 * watched with inotify as well. Rejects when the process exits first.
 */
function whenEntry(folder: string, predicate: (name: string) => boolean, proc: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let done = false;
    let watcher: FSWatcher | null = null;
    const finish = (name: string | null) => {
      if (done) return;
      done = true;
      watcher?.close();
      clearInterval(poll);
      if (name === null) reject(new Error(`the child exited before ${folder} had the awaited entry: ${childOutput.get(proc) ?? ''}`));
      else resolve(name);
    };
    const check = () => {
      if (!existsSync(folder)) return;
      if (!watcher) {
        try {
          watcher = watch(folder, (_event, name) => {
            if (name && predicate(name)) finish(name);
          });
        } catch {
          // the folder went away again; polling goes on
        }
      }
      try {
        const hit = readdirSync(folder).find(predicate);
        if (hit) finish(hit);
      } catch {
        // removed between the checks
      }
    };
    const poll = setInterval(check, 2);
    proc.once('exit', () => {
      check();
      finish(null);
    });
  });
}

const exited = (proc: ChildProcess) => new Promise<void>((resolve) => (proc.exitCode !== null || proc.signalCode !== null ? resolve() : proc.once('exit', () => resolve())));

function expectSameRun(run: string) {
  for (const file of ['mapper.safetensors', 'adapter_model.safetensors', 'santa.safetensors']) expect(bytes(run, file).equals(bytes(reference, file)), file).toBe(true);
  expect(readMetrics(run)).toEqual(readMetrics(reference).map((m) => ({ ...m, samplesPerSecond: expect.any(Number) })));
}

beforeAll(async () => {
  texts = makeData(dir);
  const full = await train(tinyConfig(dir, 'reference', STEPS), { ...quiet, components: components() });
  reference = full.runDir;
}, 120_000);

describe('kill -9', () => {
  it('during training: resume ends with the bytes of an uninterrupted run', async () => {
    const proc = startChild('killed-training');
    await whenEntry(join(dir, 'runs', 'killed-training', 'checkpoints'), (n) => n === 'step-00000003', proc);
    proc.kill('SIGKILL');
    await exited(proc);
    expect(proc.signalCode).toBe('SIGKILL');
    const resumed = await train(tinyConfig(dir, 'killed-training', STEPS), { ...quiet, resume: true, components: components() });
    expect(resumed.step).toBe(STEPS);
    expectSameRun(resumed.runDir);
  }, 180_000);

  it('during a checkpoint write: the half-written temporary folder is ignored, resume gives the same bytes', async () => {
    let hitMidWrite = false;
    for (let attempt = 0; attempt < 3 && !hitMidWrite; attempt++) {
      const name = `killed-checkpoint-${attempt}`;
      const proc = startChild(name);
      const checkpoints = join(dir, 'runs', name, 'checkpoints');
      // The first temporary folder after step 2: kill as soon as it appears.
      await whenEntry(checkpoints, (n) => /^\.step-0000000[3-7]\..*\.tmp$/.test(n), proc).catch(() => null);
      proc.kill('SIGKILL');
      await exited(proc);
      hitMidWrite = existsSync(checkpoints) && readdirSync(checkpoints).some((n) => n.endsWith('.tmp'));
      const resumed = await train(tinyConfig(dir, name, STEPS), { ...quiet, resume: true, components: components() });
      expect(resumed.step).toBe(STEPS);
      expectSameRun(resumed.runDir);
      expect(readdirSync(checkpoints).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    }
    expect(hitMidWrite, 'no kill landed while a checkpoint was being written in 3 tries').toBe(true);
  }, 400_000);
});

// Disk full: the run folder on a tmpfs too small for the whole run, then grown, then --resume.
const mountPoint = join(dir, 'small-disk');
let mounted = false;
let mountSkip = '';
if (process.platform === 'linux') {
  mkdirSync(mountPoint, { recursive: true });
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=96k', 'tmpfs', mountPoint], { encoding: 'utf8' });
  mounted = r.status === 0;
  mountSkip = mounted ? '' : `cannot mount a tmpfs here (${(r.stderr || r.error?.message || '').trim()}); needs root or CAP_SYS_ADMIN`;
} else mountSkip = 'tmpfs mounts are Linux only';
afterAll(() => {
  if (mounted) spawnSync('umount', [mountPoint]);
});

describe('disk full', () => {
  it.skipIf(!mounted)(`stops with an error naming the file, then resumes to the same bytes once there is room${mountSkip ? ` (skipped: ${mountSkip})` : ''}`, async () => {
    const config = tinyConfig(dir, 'full-disk', STEPS, join(mountPoint, 'runs'));
    const err = (await train(config, { ...quiet, components: components() }).catch((e: Error) => e)) as Error;
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toMatch(/ENOSPC/);
    expect(err.message).toContain(mountPoint); // names a file under the run folder
    const remount = spawnSync('mount', ['-o', 'remount,size=16m', mountPoint], { encoding: 'utf8' });
    expect(remount.status, remount.stderr).toBe(0);
    const resumed = await train(config, { ...quiet, resume: true, components: components() });
    expect(resumed.step).toBe(STEPS);
    expectSameRun(resumed.runDir);
  }, 180_000);
});

describe('two trainings of one run folder', () => {
  it('the second is refused while the first runs (the trainer holds lockRun)', async () => {
    const proc = startChild('concurrent', 400);
    const runsDir = join(dir, 'runs');
    await whenEntry(join(runsDir, 'concurrent', 'checkpoints'), (n) => n === 'latest.json', proc);
    expect(existsSync(lockFileOf(join(runsDir, 'concurrent')))).toBe(true);
    await expect(train(tinyConfig(dir, 'concurrent', 400), { ...quiet, resume: true, components: components() })).rejects.toThrow(/is in use by process \d+/);
    await expect(train(tinyConfig(dir, 'concurrent', 400), { ...quiet, overwrite: true, components: components() })).rejects.toThrow(/is in use by process \d+/);
    expect(existsSync(join(runsDir, 'concurrent', 'checkpoints', 'latest.json'))).toBe(true); // --overwrite deleted nothing
    proc.kill('SIGKILL');
    await exited(proc);
    // The killed holder left a stale lock: the next --resume takes it over.
    await train(tinyConfig(dir, 'concurrent', 4), { ...quiet, resume: true, components: components() }).catch((e: Error) => {
      expect(e.message).not.toMatch(/is in use/);
    });
  }, 180_000);
});

describe('NaN weights are rejected at load, naming file and tensor', () => {
  it('mapper, GPT-2 and LoRA adapter files', async () => {
    const out = mkdtempSync(join(tmpdir(), 'mats-nan-'));
    const mapperFile = join(out, 'mapper.safetensors');
    createMapper({ clapDim: 8, width: 8, layers: 1, heads: 2, prefixLength: 2, clipLength: 2 }, new Rng(0)).save(mapperFile);
    const poison = (file: string) => {
      const st = readSafetensors(file);
      const [name, t] = [...st.tensors.entries()].find(([, x]) => x.data instanceof Float32Array)!;
      const data = Float32Array.from(t.data as Float32Array);
      data[1] = Number.NaN;
      writeSafetensors(file, Object.fromEntries([...st.tensors.entries()].map(([k, x]) => [k, { data: k === name ? data : x.data, shape: x.shape }])) as never, st.metadata);
      return name;
    };
    const mapperTensor = poison(mapperFile);
    expect(() => loadMapper(mapperFile)).toThrow(`${mapperFile}: tensor "${mapperTensor}"`);
    expect(() => loadMapper(mapperFile)).toThrow(/holds NaN at element 1/);

    // GPT-2 with the GPT-2 BPE vocabulary (no tokenizer.json: loadCausalLM falls back to it)
    const lmDir = join(out, 'lm');
    const lm = createCausalLM(makeConfig({ vocabSize: 50257, nEmbd: 8, nLayer: 1, nHead: 2, nPositions: 16 }), new Rng(1));
    await saveCausalLM(lm, lmDir);
    const adapterDir = join(out, 'adapter');
    const adapter = applyLora(lm, { r: 2, alpha: 4, dropout: 0, targetModules: ['c_attn'] }, new Rng(2));
    await saveLora(adapter, adapterDir);
    const lmTensor = poison(join(lmDir, 'model.safetensors'));
    expect(() => loadCausalLM(lmDir)).toThrow(`${join(lmDir, 'model.safetensors')}: tensor "${lmTensor}"`);
    const adapterTensor = poison(join(adapterDir, 'adapter_model.safetensors'));
    const fresh = createCausalLM(makeConfig({ vocabSize: 50257, nEmbd: 8, nLayer: 1, nHead: 2, nPositions: 16 }), new Rng(1));
    expect(() => loadLora(fresh, adapterDir)).toThrow(`${join(adapterDir, 'adapter_model.safetensors')}: tensor "${adapterTensor}"`);
  }, 120_000);
});
