import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { createHash } from 'node:crypto';
import { Rng } from '@mats/core';
import { generateWorld, writeWorld, loadWorld, renderClip, WORLD_CLASSES, type WorldClipSpec } from './index.js';
import { decodeAudioFile, encodeWav } from '../audio/index.js';
import { mmauPrompt } from '../templates.js';

const MMAU_REAL = join(__dirname, '..', '..', '..', '..', '..', 'shared', 'data', 'mmau-test-mini.json');

function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out;
}

const small = { size: 'small' as const, counts: { pretrain: 20, train: 15, eval: 10 } };

describe('world determinism', () => {
  it('same seed -> byte-identical folders; different seed -> different', async () => {
    const a = mkdtempSync(join(tmpdir(), 'world-a-'));
    const b = mkdtempSync(join(tmpdir(), 'world-b-'));
    const c = mkdtempSync(join(tmpdir(), 'world-c-'));
    await writeWorld(generateWorld({ seed: 7, ...small }), a);
    await writeWorld(generateWorld({ seed: 7, ...small }), b);
    await writeWorld(generateWorld({ seed: 8, ...small }), c);
    const files = listFiles(a);
    expect(files).toEqual(listFiles(b));
    expect(files.filter((f) => f.endsWith('.wav')).length).toBe(45);
    for (const f of files) expect(readFileSync(join(b, f)).equals(readFileSync(join(a, f))), f).toBe(true);
    expect(readFileSync(join(c, 'train.jsonl')).equals(readFileSync(join(a, 'train.jsonl')))).toBe(false);
    expect(readFileSync(join(c, 'audio', 'pre-000000.wav')).equals(readFileSync(join(a, 'audio', 'pre-000000.wav')))).toBe(false);
  }, 300_000);
  it('a clip does not depend on how many clips were generated', () => {
    const w1 = generateWorld({ seed: 3, counts: { pretrain: 5, train: 5, eval: 5 } });
    const w2 = generateWorld({ seed: 3, counts: { pretrain: 50, train: 5, eval: 5 } });
    expect(w2.train).toEqual(w1.train);
    expect(w2.eval).toEqual(w1.eval);
  });
});

describe('world contents', () => {
  const world = generateWorld({ seed: 0, counts: { pretrain: 200, train: 200, eval: 200 } });
  it('has >= 20 classes across sound and music', () => {
    expect(world.labels.length).toBeGreaterThanOrEqual(20);
    expect(new Set(WORLD_CLASSES.map((c) => c.audioType))).toEqual(new Set(['sound', 'music']));
    expect(world.manifest.counts).toEqual({ pretrain: 200, train: 200, trainRecords: 800, eval: 200 });
  });
  it('uses every class, multi-event clips and every attribute value', () => {
    const events = world.clips.flatMap((c) => c.events);
    expect(new Set(events.map((e) => e.class)).size).toBe(world.labels.length);
    expect(world.clips.some((c) => c.events.length === 3)).toBe(true);
    expect(new Set(events.map((e) => e.pitch).filter(Boolean))).toEqual(new Set(['low', 'high']));
    expect(new Set(events.map((e) => e.loudness))).toEqual(new Set(['quiet', 'loud']));
    expect(new Set(events.map((e) => e.duration).filter(Boolean))).toEqual(new Set(['short', 'long']));
    expect(new Set(events.map((e) => e.count))).toEqual(new Set([1, 2, 3, 4]));
  });
  it('events are sequential and inside the clip', () => {
    for (const c of world.clips) {
      let t = 0;
      for (const e of c.events) {
        expect(e.start).toBeGreaterThanOrEqual(t);
        t = e.start + e.length;
      }
      expect(t).toBeLessThanOrEqual(2.0001);
    }
  });
  it('train records follow Table S8 and the MMAU prompt', () => {
    const byTask = new Map<string, number>();
    for (const r of world.train) byTask.set(r.task, (byTask.get(r.task) ?? 0) + 1);
    expect(Object.fromEntries(byTask)).toEqual({ cls: 200, cap: 200, aqa: 200, mcq: 200 });
    const clip = world.clips.find((c) => c.id === 'trn-000000')!;
    const [cls, cap, aqa, mcq] = world.train.slice(0, 4);
    expect(cls.instruction).toBe('Classify events in the audio clip.');
    expect(cls.answer).toBe([...new Set(clip.events.map((e) => e.class))].join(', '));
    expect(cap.instruction).toBe(clip.audioType === 'music' ? 'Generate music caption.' : 'Generate audio caption.');
    expect(cap.answer).toBe(cap.text);
    expect(aqa.instruction.endsWith('?')).toBe(true);
    expect(mcq.instruction).toMatch(/^.+\? Select one option: .+ Respond with exactly one of the options above\.$/);
    for (const r of world.train) expect(r.audio).toBe(`audio/${r.id.slice(0, 10)}.wav`);
  });
  it('captions mention what is in the clip; evaluation references are worded differently from training text', () => {
    const trainTexts = new Set([...world.train.map((r) => r.text), ...world.pretrain.map((p) => p.caption)]);
    for (const item of world.eval.captions) {
      expect(item.captions.length).toBe(5);
      for (const ref of item.captions) expect(trainTexts.has(ref)).toBe(false);
    }
    // Every pretrain caption names its clip's events through one of the class's subject nouns.
    for (const p of world.pretrain) {
      for (const label of p.labels) {
        const cls = WORLD_CLASSES.find((c) => c.name === label)!;
        expect(cls.subjects.some((s) => p.caption.includes(s)), `${p.caption} / ${label}`).toBe(true);
      }
    }
  });
  it('evaluation questions and choices use only words seen in the training text (closed vocabulary)', () => {
    const words = (s: string) => s.toLowerCase().match(/[a-z]+/g) ?? [];
    const vocab = new Set(world.train.flatMap((r) => [...words(r.text), ...words(r.instruction), ...words(r.answer)]));
    const missing = new Set<string>();
    for (const q of world.eval.aqa) for (const w of [...words(q.question), ...words(q.answer)]) if (!vocab.has(w)) missing.add(w);
    for (const m of world.eval.mmau) for (const w of words(mmauPrompt(m.question, m.choices))) if (!vocab.has(w)) missing.add(w);
    expect([...missing]).toEqual([]);
  });
  it('AQA has yes/no and open questions whose answers follow the metadata', () => {
    const binary = world.eval.aqa.filter((q) => q.binary);
    expect(binary.length).toBeGreaterThan(60);
    expect(world.eval.aqa.length - binary.length).toBeGreaterThan(60);
    for (const q of binary) expect(['yes', 'no']).toContain(q.answer);
    const clips = new Map(world.clips.map((c) => [c.id, c]));
    for (const q of world.eval.aqa) {
      const clip = clips.get(q.id)!;
      if (q.question === 'what sound comes first?' || q.question === 'what is the first sound?') expect(q.answer).toBe(clip.events[0].class);
      const m = /^how many times does the (.+) sound\?$/.exec(q.question);
      if (m) {
        const ev = clip.events.find((e) => WORLD_CLASSES.find((c) => c.name === e.class)!.noun === m[1])!;
        expect(q.answer).toBe(['zero', 'one', 'two', 'three', 'four'][ev.count]);
      }
    }
  });
  it('MMAU items have the real file fields, and the answer is one of the choices', () => {
    const fields = existsSync(MMAU_REAL)
      ? Object.keys((JSON.parse(readFileSync(MMAU_REAL, 'utf8')) as object[])[0]).sort()
      : ['answer', 'audio_id', 'category', 'choices', 'dataset', 'difficulty', 'id', 'question', 'split', 'sub-category', 'task'];
    for (const m of world.eval.mmau) {
      expect(Object.keys(m).sort()).toEqual(fields);
      expect(m.choices).toContain(m.answer);
      expect(new Set(m.choices).size).toBe(m.choices.length);
      expect(['sound', 'music']).toContain(m.task);
    }
    expect(new Set(world.eval.mmau.map((m) => m['sub-category'])).size).toBeGreaterThanOrEqual(6);
  });
});

describe('rendered audio follows the metadata', () => {
  const spec = (events: Partial<WorldClipSpec['events'][number]>[]): WorldClipSpec => ({
    id: 'test',
    audioType: 'sound',
    events: events.map((e) => ({ class: 'beep', loudness: 'loud', count: 1, start: 0.1, length: 1, f0: 1000, amp: 0.6, ...e })),
  });
  function rms(x: Float32Array, from: number, to: number): number {
    let s = 0;
    for (let i = from; i < to; i++) s += x[i] * x[i];
    return Math.sqrt(s / (to - from));
  }
  it('a beep sounding three times has three bursts at its pitch', () => {
    const x = renderClip(spec([{ count: 3, start: 0.2, length: 0.75, f0: 1200 }]), 0).channels[0];
    // Count bursts: 5 ms frames above a threshold, rising edges.
    let bursts = 0;
    let on = false;
    for (let f = 0; f + 80 <= x.length; f += 80) {
      const loud = rms(x, f, f + 80) > 0.1;
      if (loud && !on) bursts++;
      on = loud;
    }
    expect(bursts).toBe(3);
    // Zero crossings inside the first burst give the frequency.
    const a = Math.round(0.21 * 16000), b = Math.round(0.31 * 16000);
    let zc = 0;
    for (let i = a + 1; i < b; i++) if ((x[i - 1] < 0) !== (x[i] < 0)) zc++;
    expect((zc / 2) / ((b - a) / 16000)).toBeGreaterThan(1150);
    expect((zc / 2) / ((b - a) / 16000)).toBeLessThan(1250);
  });
  it('loud is louder than quiet by more than 10 dB; silence is only the noise floor', () => {
    const loud = renderClip(spec([{ class: 'siren', amp: 0.6 }]), 0).channels[0];
    const quiet = renderClip(spec([{ class: 'siren', amp: 0.12 }]), 0).channels[0];
    const seg = [Math.round(0.3 * 16000), Math.round(0.9 * 16000)] as const;
    expect(20 * Math.log10(rms(loud, ...seg) / rms(quiet, ...seg))).toBeGreaterThan(10);
    expect(rms(loud, 0, 1000)).toBeLessThan(0.002);
    expect(rms(loud, 0, 1000)).toBeGreaterThan(0.0005);
  });
  it('renders through writeWorld to 16 kHz mono PCM16 files of 2 s that loadWorld finds', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'world-load-'));
    const w = generateWorld({ seed: 1, counts: { pretrain: 3, train: 2, eval: 2 } });
    await writeWorld(w, dir);
    const loaded = await loadWorld(dir);
    expect(loaded.manifest).toEqual(w.manifest);
    expect(loaded.train).toEqual(w.train);
    expect(loaded.eval).toEqual(w.eval);
    expect(loaded.clips.get('evl-000001')).toEqual(w.clips.find((c) => c.id === 'evl-000001'));
    const clip = await decodeAudioFile(loaded.audioPath(loaded.pretrain[0].audio));
    expect(clip.sampleRate).toBe(16000);
    expect(clip.channels.length).toBe(1);
    expect(clip.channels[0].length).toBe(32000);
    const expected = renderClip(w.clips[0], 1).channels[0];
    let maxErr = 0;
    for (let i = 0; i < 32000; i++) maxErr = Math.max(maxErr, Math.abs(clip.channels[0][i] - expected[i]));
    expect(maxErr).toBeLessThanOrEqual(0.5 / 32768 + 1e-9);
  }, 300_000);
  it('loadWorld on a folder that is not a world says so', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'not-world-'));
    await expect(loadWorld(dir)).rejects.toThrow(/manifest\.json: missing \(is this a world folder\?/);
  });
  it('seeded noise makes classes with noise differ between seeds', () => {
    const s = spec([{ class: 'hiss' }]);
    expect(renderClip(s, 1).channels[0]).not.toEqual(renderClip(s, 2).channels[0]);
    expect(new Rng(1).uniform()).not.toBe(new Rng(2).uniform());
  });
});

describe('the default world is frozen', () => {
  // Regression pin, not a correctness check: the tiny CLAP and tiny LM assets committed by @mats/clap and
  // @mats/llm-lora were trained on the default world (seed 0, default size). If this fails, the default world
  // changed and those assets must be retrained (or the change undone). Hashes taken from the world of 2026-11-27 04:29.
  const sha = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex');
  it('metadata, text and three clips are unchanged', () => {
    const w = generateWorld({ seed: 0 });
    const { generator: _generator, ...manifest } = w.manifest;
    expect(sha(JSON.stringify([manifest, w.labels, w.clips, w.pretrain, w.train, w.eval]))).toBe('e30b66ea2e7d2ae934a2cc15afb2e586f0e5d491e4b100047c0ba0b1a3db0e88');
    const wav = (id: string) => sha(encodeWav(renderClip(w.clips.find((c) => c.id === id)!, 0)));
    expect(wav('pre-000000')).toBe('5322c9d7d5cd21fdca2cf790dbc1770006cbe1ecdf4f733819242ecff63aca91');
    expect(wav('trn-000999')).toBe('802c55f5fa3a2900a05d3639f72fac87a2110f4f9ddcbcf13aa63cc65c6e46a4');
    expect(wav('evl-000299')).toBe('00c7dc51d61c4da8ae245626775b96c1a39abdb11046b8df14f6c7dff4c61610');
  }, 300_000);
});
