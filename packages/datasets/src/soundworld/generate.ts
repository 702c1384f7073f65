/**
 * The synthetic sound world (DESIGN.md section 5): clip metadata, text and audio, all derived from one
 * seed. Every clip has its own random stream (seeded by the world seed and the clip id), so the world is
 * reproducible byte for byte and one clip does not depend on how many others were generated.
 *
 * `generateWorld` builds the metadata and text in memory (small); audio is rendered per clip on demand
 * by `renderClip` (so a large world never sits in memory as waveforms).
 */
import { readFileSync } from 'node:fs';
import { Rng } from '@mats/core';
import type { AudioClip } from '../audio/clip.js';
import type { AudioTIARecord } from '../records.js';
import { captionInstruction, classificationAnswer, classificationInstruction, mmauPrompt } from '../templates.js';
import { WORLD_CLASSES, classByName, type WorldAudioType } from './classes.js';
import { captionClip, choiceItemFor, clipLabels, questionFor, type WorldClipSpec, type WorldEvent, type Pitch, type Loudness, type Duration, type WorldChoiceItem } from './text.js';

export type WorldSize = 'small' | 'default' | 'large';

export const WORLD_SIZES: Record<WorldSize, { pretrain: number; train: number; eval: number }> = {
  small: { pretrain: 240, train: 160, eval: 60 },
  default: { pretrain: 1500, train: 1000, eval: 300 },
  large: { pretrain: 6000, train: 4000, eval: 1000 },
};

export interface WorldOptions {
  seed?: number;
  size?: WorldSize;
  /** Override the clip counts of the size preset. */
  counts?: Partial<{ pretrain: number; train: number; eval: number }>;
  sampleRate?: number;
  clipSeconds?: number;
}

export interface PretrainPair {
  id: string;
  audio: string;
  caption: string;
  labels: string[];
}

export interface ClassificationItem {
  id: string;
  audio: string;
  labels: string[];
}

export interface CaptionItem {
  id: string;
  audio: string;
  captions: string[];
}

export interface AqaItem {
  id: string;
  audio: string;
  question: string;
  answer: string;
  binary: boolean;
}

/** An MMAU-format item (the same fields as mmau-test-mini.json); `audio_id` is relative to the world folder. */
export interface MmauItem extends WorldChoiceItem {
  id: string;
  audio_id: string;
  dataset: string;
  split: string;
}

export interface WorldClassInfo {
  name: string;
  audioType: WorldAudioType;
  pattern: 'repeated' | 'continuous';
  pitched: boolean;
}

export interface WorldManifest {
  format: 'mats-world';
  version: 1;
  seed: number;
  sampleRate: number;
  clipSeconds: number;
  classes: WorldClassInfo[];
  counts: { pretrain: number; train: number; trainRecords: number; eval: number };
  generator: string;
}

export interface World {
  manifest: WorldManifest;
  labels: string[];
  /** Every clip's metadata (pretrain, train, eval), in that order. */
  clips: WorldClipSpec[];
  pretrain: PretrainPair[];
  train: AudioTIARecord[];
  eval: { classification: ClassificationItem[]; captions: CaptionItem[]; aqa: AqaItem[]; mmau: MmauItem[] };
}

/** Path of a clip inside the world folder. */
export function clipAudioPath(id: string): string {
  return `audio/${id}.wav`;
}

function clipId(prefix: string, i: number): string {
  return `${prefix}-${String(i).padStart(6, '0')}`;
}

function checkCount(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 0) throw new Error(`generateWorld: counts.${name} must be a non-negative integer, got ${v}`);
  return v;
}

/** Chooses the events of one clip and lays them out in time (sequential, non-overlapping). */
export function makeClipSpec(id: string, seed: number, clipSeconds: number): WorldClipSpec {
  const rng = new Rng(`mats-world/${seed}/${id}/events`);
  const audioType: WorldAudioType = rng.uniform() < 0.4 ? 'music' : 'sound';
  const u = rng.uniform();
  const k = u < 0.5 ? 1 : u < 0.88 ? 2 : 3;
  const pool = WORLD_CLASSES.filter((c) => c.audioType === audioType);
  const chosen = rng.shuffle([...pool]).slice(0, k);
  const scale = clipSeconds / 2;
  // Time budget: leave room for gaps; if the natural lengths do not fit, shorten attributes and retry.
  const budget = clipSeconds - 0.1 * scale * (k + 1);
  let events: WorldEvent[] = [];
  for (let attempt = 0; attempt < 50; attempt++) {
    events = chosen.map((cls) => {
      const loudness: Loudness = rng.uniform() < 0.5 ? 'quiet' : 'loud';
      const pitch: Pitch | undefined = cls.pitched ? (rng.uniform() < 0.5 ? 'low' : 'high') : undefined;
      let duration: Duration | undefined;
      let count = 1;
      let length: number;
      if (cls.pattern === 'continuous') {
        duration = rng.uniform() < 0.5 ? 'short' : 'long';
        length = (duration === 'short' ? 0.3 + 0.1 * rng.uniform() : 0.85 + 0.2 * rng.uniform()) * scale;
      } else {
        count = 1 + rng.int(4);
        length = count * (0.22 + 0.06 * rng.uniform()) * scale;
      }
      let f0 = 0;
      if (cls.register) {
        const centre = cls.register[pitch === 'low' ? 0 : 1];
        f0 = centre * Math.pow(2, (rng.uniform() * 2 - 1) / 12); // +- one semitone
      }
      const amp = loudness === 'quiet' ? 0.1 + 0.05 * rng.uniform() : 0.55 + 0.2 * rng.uniform();
      return { class: cls.name, ...(pitch ? { pitch } : {}), loudness, ...(duration ? { duration } : {}), count, start: 0, length, f0, amp };
    });
    if (events.reduce((s, e) => s + e.length, 0) <= budget) break;
  }
  const total = events.reduce((s, e) => s + e.length, 0);
  if (total > budget) {
    // Still too long after 50 tries (only with unusual clip lengths): shrink proportionally.
    for (const e of events) e.length *= budget / total;
  }
  // Distribute the slack: random lead-in and gaps.
  const slack = clipSeconds - events.reduce((s, e) => s + e.length, 0);
  const weights = Array.from({ length: events.length + 1 }, () => 0.2 + rng.uniform());
  const wsum = weights.reduce((a, b) => a + b, 0);
  let t = (slack * weights[0]) / wsum;
  for (let i = 0; i < events.length; i++) {
    events[i].start = round4(t);
    events[i].length = round4(events[i].length);
    events[i].f0 = round4(events[i].f0);
    events[i].amp = round4(events[i].amp);
    t += events[i].length + (slack * weights[i + 1]) / wsum;
  }
  return { id, audioType, events };
}

function round4(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}

/** Renders one clip's waveform (mono) from its metadata. */
export function renderClip(spec: WorldClipSpec, seed: number, sampleRate = 16000, clipSeconds = 2): AudioClip {
  const n = Math.round(sampleRate * clipSeconds);
  const out = new Float32Array(n);
  const rng = new Rng(`mats-world/${seed}/${spec.id}/audio`);
  for (const ev of spec.events) {
    const start = Math.round(ev.start * sampleRate);
    const length = Math.min(n - start, Math.round(ev.length * sampleRate));
    if (length <= 0) continue;
    classByName(ev.class).synth(out, start, length, { f0: ev.f0, amp: ev.amp, count: ev.count }, rng, sampleRate);
  }
  // A faint noise floor, so silence is not digital zero (log-mel features stay finite and realistic).
  for (let i = 0; i < n; i++) {
    const v = out[i] + 0.002 * (rng.uniform() * 2 - 1);
    out[i] = v > 1 ? 1 : v < -1 ? -1 : v;
  }
  return { sampleRate, channels: [out] };
}

function recordsForTrainClip(spec: WorldClipSpec, seed: number): AudioTIARecord[] {
  const rng = new Rng(`mats-world/${seed}/${spec.id}/text`);
  const audio = clipAudioPath(spec.id);
  const base = { audioType: spec.audioType, source: 'world', audio } as const;
  const caption = () => captionClip(spec, rng, 'train');
  const out: AudioTIARecord[] = [];
  out.push({ id: `${spec.id}-cls`, text: caption(), instruction: classificationInstruction(), answer: classificationAnswer(clipLabels(spec)), task: 'cls', ...base });
  const cap = caption();
  out.push({ id: `${spec.id}-cap`, text: cap, instruction: captionInstruction(spec.audioType), answer: cap, task: 'cap', ...base });
  const qa = questionFor(spec, rng, rng.uniform() < 0.5);
  out.push({ id: `${spec.id}-aqa`, text: caption(), instruction: qa.question, answer: qa.answer, task: 'aqa', ...base });
  const mc = choiceItemFor(spec, rng);
  out.push({ id: `${spec.id}-mcq`, text: caption(), instruction: mmauPrompt(mc.question, mc.choices), answer: mc.answer, task: 'mcq', ...base });
  return out;
}

/** This package's version, for the manifest's "generator" field. */
function packageVersion(): string {
  // src/world/ and dist/world/ are both two levels below the package root.
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Builds the world's metadata and text (audio is rendered by `renderClip` / `writeWorld`). */
export function generateWorld(options: WorldOptions = {}): World {
  const seed = options.seed ?? 0;
  if (!Number.isInteger(seed)) throw new Error(`generateWorld: seed must be an integer, got ${seed}`);
  const size = options.size ?? 'default';
  if (!(size in WORLD_SIZES)) throw new Error(`generateWorld: size must be one of ${Object.keys(WORLD_SIZES).join('|')}, got "${size}"`);
  const preset = WORLD_SIZES[size];
  const counts = {
    pretrain: checkCount('pretrain', options.counts?.pretrain ?? preset.pretrain),
    train: checkCount('train', options.counts?.train ?? preset.train),
    eval: checkCount('eval', options.counts?.eval ?? preset.eval),
  };
  const sampleRate = options.sampleRate ?? 16000;
  const clipSeconds = options.clipSeconds ?? 2;
  if (!Number.isInteger(sampleRate) || sampleRate < 8000) throw new Error(`generateWorld: sampleRate must be an integer >= 8000 Hz, got ${sampleRate}`);
  if (!(clipSeconds >= 1 && clipSeconds <= 30)) throw new Error(`generateWorld: clipSeconds must be in [1, 30], got ${clipSeconds}`);

  const pre = Array.from({ length: counts.pretrain }, (_, i) => makeClipSpec(clipId('pre', i), seed, clipSeconds));
  const trn = Array.from({ length: counts.train }, (_, i) => makeClipSpec(clipId('trn', i), seed, clipSeconds));
  const evl = Array.from({ length: counts.eval }, (_, i) => makeClipSpec(clipId('evl', i), seed, clipSeconds));

  const pretrain = pre.map((spec) => {
    const rng = new Rng(`mats-world/${seed}/${spec.id}/text`);
    return { id: spec.id, audio: clipAudioPath(spec.id), caption: captionClip(spec, rng, 'train'), labels: clipLabels(spec) };
  });
  const train = trn.flatMap((spec) => recordsForTrainClip(spec, seed));
  const classification: ClassificationItem[] = [];
  const captions: CaptionItem[] = [];
  const aqa: AqaItem[] = [];
  const mmau: MmauItem[] = [];
  for (const spec of evl) {
    const rng = new Rng(`mats-world/${seed}/${spec.id}/text`);
    const audio = clipAudioPath(spec.id);
    classification.push({ id: spec.id, audio, labels: clipLabels(spec) });
    // Five distinct references in the evaluation wording.
    const refs = new Set<string>();
    for (let tries = 0; refs.size < 5 && tries < 100; tries++) refs.add(captionClip(spec, rng, 'eval'));
    captions.push({ id: spec.id, audio, captions: [...refs] });
    const qa = questionFor(spec, rng, rng.uniform() < 0.5);
    aqa.push({ id: spec.id, audio, question: qa.question, answer: qa.answer, binary: qa.binary });
    const mc = choiceItemFor(spec, rng);
    mmau.push({
      id: `${spec.id}-mmau`, audio_id: audio, question: mc.question, choices: mc.choices, answer: mc.answer,
      dataset: 'mats-world', task: mc.task, split: 'eval', category: mc.category, 'sub-category': mc['sub-category'], difficulty: mc.difficulty,
    });
  }
  const manifest: WorldManifest = {
    format: 'mats-world',
    version: 1,
    seed,
    sampleRate,
    clipSeconds,
    classes: WORLD_CLASSES.map((c) => ({ name: c.name, audioType: c.audioType, pattern: c.pattern, pitched: c.pitched })),
    counts: { pretrain: counts.pretrain, train: counts.train, trainRecords: train.length, eval: counts.eval },
    generator: `@mats/datasets@${packageVersion()}`,
  };
  return { manifest, labels: WORLD_CLASSES.map((c) => c.name), clips: [...pre, ...trn, ...evl], pretrain, train, eval: { classification, captions, aqa, mmau } };
}
