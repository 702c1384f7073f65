/**
 * Text of the synthetic world, generated from the same metadata the audio is rendered from: labels,
 * captions (training wording and a separate evaluation wording), question-answer pairs and MMAU-style
 * multiple-choice items. Closed vocabulary: lower-case words, commas, question marks.
 */
import type { Rng } from '@mats/core';
import { WORLD_CLASSES, classByName, type EventClass, type WorldAudioType } from './classes.js';

export type Pitch = 'low' | 'high';
export type Loudness = 'quiet' | 'loud';
export type Duration = 'short' | 'long';

/** One event of a clip, as stored in the world's metadata. */
export interface WorldEvent {
  class: string;
  pitch?: Pitch;
  loudness: Loudness;
  /** Continuous classes: short or long. */
  duration?: Duration;
  /** Repeated classes: 1..4 hits; continuous classes: 1. */
  count: number;
  /** Onset and length in seconds. */
  start: number;
  length: number;
  /** Synthesis parameters. */
  f0: number;
  amp: number;
}

export interface WorldClipSpec {
  id: string;
  audioType: WorldAudioType;
  events: WorldEvent[];
}

export type CaptionStyle = 'train' | 'eval';

const NUMBER_WORDS = ['zero', 'one', 'two', 'three', 'four', 'five'];

const LOUDNESS_WORDS: Record<Loudness, string[]> = { quiet: ['quiet', 'soft', 'faint'], loud: ['loud', 'strong', 'powerful'] };
const PITCH_WORDS: Record<Pitch, string[]> = { low: ['low', 'deep', 'low pitched'], high: ['high', 'shrill', 'high pitched'] };
const DURATION_WORDS: Record<Duration, string[]> = {
  short: ['briefly', 'for a moment', 'for a short time'],
  long: ['for a long time', 'steadily', 'for a while'],
};
const COUNT_WORDS: Record<number, string[]> = {
  1: ['once', 'one time'],
  2: ['twice', 'two times'],
  3: ['three times', 'three times in a row'],
  4: ['four times', 'four times in a row'],
};

const TEMPLATES: Record<CaptionStyle, string[][]> = {
  train: [
    [],
    ['{a}', '{a} in this clip', 'in this recording {a}', 'you can hear that {a}', '{a} here'],
    ['{a}, then {b}', '{a} and then {b}', 'first {a}, then {b}', '{a}, after that {b}', '{a}, and next {b}'],
    ['{a}, then {b}, and finally {c}', 'first {a}, next {b}, then {c}', '{a}, then {b}, after that {c}'],
  ],
  // Evaluation references use other sentence structures, so they are never copies of training text.
  eval: [
    [],
    ['{a} in the recording', 'we can hear that {a}', 'in this audio {a}', 'there is a clip where {a}', 'a recording in which {a}'],
    ['{a} before {b}', '{a}, later {b}', 'at first {a}, and then {b}', 'after {a}, {b}', 'at the start {a}, and at the end {b}'],
    ['{a}, next {b}, and lastly {c}', 'at first {a}, then {b}, and at the end {c}', '{a} before {b}, and then {c}'],
  ],
};

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[rng.int(items.length)];
}

function withArticle(phrase: string): string {
  return (/^[aeiou]/.test(phrase) ? 'an ' : 'a ') + phrase;
}

/** A clause describing one event: "a loud high beep sounds three times". */
export function describeEvent(ev: WorldEvent, rng: Rng, mention = 0.75): string {
  const cls = classByName(ev.class);
  const adjectives: string[] = [];
  if (rng.uniform() < mention) adjectives.push(pick(rng, LOUDNESS_WORDS[ev.loudness]));
  if (ev.pitch && rng.uniform() < mention) adjectives.push(pick(rng, PITCH_WORDS[ev.pitch]));
  const subject = pick(rng, cls.subjects);
  let clause = `${withArticle([...adjectives, subject].join(' '))} ${pick(rng, cls.verbs)}`;
  if (cls.pattern === 'repeated') {
    if (rng.uniform() < (ev.count === 1 ? 0.5 : Math.max(mention, 0.85))) clause += ` ${pick(rng, COUNT_WORDS[ev.count])}`;
  } else if (ev.duration && rng.uniform() < mention) {
    clause += ` ${pick(rng, DURATION_WORDS[ev.duration])}`;
  }
  return clause;
}

/** A caption of the whole clip in the given style. */
export function captionClip(clip: WorldClipSpec, rng: Rng, style: CaptionStyle = 'train'): string {
  const k = clip.events.length;
  const template = pick(rng, TEMPLATES[style][k]);
  const clauses = clip.events.map((ev) => describeEvent(ev, rng, style === 'eval' ? 0.85 : 0.75));
  return template.replace('{a}', clauses[0]).replace('{b}', clauses[1] ?? '').replace('{c}', clauses[2] ?? '');
}

/** The clip's labels: class names in order of first appearance. */
export function clipLabels(clip: WorldClipSpec): string[] {
  return [...new Set(clip.events.map((e) => e.class))];
}

export interface WorldQuestion {
  question: string;
  answer: string;
  binary: boolean;
  kind: string;
}

function nounOf(cls: EventClass): string {
  return cls.noun;
}

function anyNoun(cls: EventClass): string {
  return cls.mass ? `any ${cls.noun}` : withArticle(cls.noun);
}

/** Classes of the same audio type that are absent from the clip. */
function absentClasses(clip: WorldClipSpec): EventClass[] {
  const present = new Set(clip.events.map((e) => e.class));
  return WORLD_CLASSES.filter((c) => c.audioType === clip.audioType && !present.has(c.name));
}

/** One question-answer pair about the clip: yes/no when `binary`, else open. */
export function questionFor(clip: WorldClipSpec, rng: Rng, binary: boolean): WorldQuestion {
  const ev = pick(rng, clip.events);
  const cls = classByName(ev.class);
  const noun = nounOf(cls);
  const yes = rng.uniform() < 0.5;
  const yn = (b: boolean) => (b ? 'yes' : 'no');
  if (binary) {
    const kinds = ['presence', 'loudness'];
    if (ev.pitch) kinds.push('pitch');
    if (cls.pattern === 'repeated') kinds.push('count');
    if (cls.pattern === 'continuous' && ev.duration) kinds.push('duration');
    if (clip.events.length >= 2) kinds.push('order');
    const kind = pick(rng, kinds);
    switch (kind) {
      case 'presence': {
        const absent = absentClasses(clip);
        const target = yes || absent.length === 0 ? cls : pick(rng, absent);
        const q = pick(rng, ['is there {x} in this audio?', 'can you hear {x}?', 'does this clip contain {x}?']).replace('{x}', anyNoun(target));
        return { question: q, answer: yn(target === cls), binary: true, kind };
      }
      case 'loudness': {
        const asked: Loudness = yes ? ev.loudness : ev.loudness === 'loud' ? 'quiet' : 'loud';
        return { question: `is the ${noun} ${asked}?`, answer: yn(asked === ev.loudness), binary: true, kind };
      }
      case 'pitch': {
        const asked: Pitch = yes ? ev.pitch! : ev.pitch === 'high' ? 'low' : 'high';
        return { question: `is the ${noun} ${asked} pitched?`, answer: yn(asked === ev.pitch), binary: true, kind };
      }
      case 'count':
        return { question: `does the ${noun} sound more than once?`, answer: yn(ev.count > 1), binary: true, kind };
      case 'duration': {
        const asked: Duration = yes ? ev.duration! : ev.duration === 'long' ? 'short' : 'long';
        return { question: `does the ${noun} last a ${asked} time?`, answer: yn(asked === ev.duration), binary: true, kind };
      }
      default: {
        const [i, j] = rng.permutation(clip.events.length).slice(0, 2);
        const a = classByName(clip.events[i].class), b = classByName(clip.events[j].class);
        return { question: `is the ${nounOf(a)} heard before the ${nounOf(b)}?`, answer: yn(i < j), binary: true, kind: 'order' };
      }
    }
  }
  const kinds = ['loudness', 'sources'];
  if (clip.events.length === 1) kinds.push('identify', 'identify');
  else kinds.push('first', 'last');
  if (ev.pitch) kinds.push('pitch');
  if (cls.pattern === 'repeated') kinds.push('count');
  if (cls.pattern === 'continuous' && ev.duration) kinds.push('duration');
  const kind = pick(rng, kinds);
  const last = clip.events.length - 1;
  switch (kind) {
    case 'identify':
      return {
        question: clip.audioType === 'music' ? pick(rng, ['which instrument is playing?', 'what instrument can be heard?']) : pick(rng, ['what sound is heard in this clip?', 'what can be heard in this audio?']),
        answer: ev.class, binary: false, kind,
      };
    case 'first':
      return { question: pick(rng, ['what sound comes first?', 'what is the first sound?']), answer: clip.events[0].class, binary: false, kind };
    case 'last':
      return { question: pick(rng, ['what sound comes last?', 'what is the last sound?']), answer: clip.events[last].class, binary: false, kind };
    case 'pitch':
      return { question: `is the pitch of the ${noun} high or low?`, answer: ev.pitch!, binary: false, kind };
    case 'count':
      return { question: `how many times does the ${noun} sound?`, answer: NUMBER_WORDS[ev.count], binary: false, kind };
    case 'duration':
      return { question: `is the ${noun} short or long?`, answer: ev.duration!, binary: false, kind };
    case 'sources':
      return { question: pick(rng, ['how many different sounds can be heard?', 'how many sounds are there in this clip?']), answer: NUMBER_WORDS[new Set(clip.events.map((e) => e.class)).size], binary: false, kind };
    default:
      return { question: `how loud is the ${noun}?`, answer: ev.loudness, binary: false, kind: 'loudness' };
  }
}

/** A multiple-choice item about the clip, with MMAU's fields (minus id / audio_id / split, added by the caller). */
export interface WorldChoiceItem {
  question: string;
  choices: string[];
  answer: string;
  task: WorldAudioType;
  category: string;
  'sub-category': string;
  difficulty: 'easy' | 'medium' | 'hard';
}

export function choiceItemFor(clip: WorldClipSpec, rng: Rng): WorldChoiceItem {
  const ev = pick(rng, clip.events);
  const cls = classByName(ev.class);
  const noun = nounOf(cls);
  const kinds = ['identify', 'identify', 'loudness', 'sources'];
  if (clip.events.length >= 2) kinds.push('order', 'order');
  if (ev.pitch) kinds.push('pitch');
  if (cls.pattern === 'repeated') kinds.push('count');
  if (cls.pattern === 'continuous' && ev.duration) kinds.push('duration');
  const kind = pick(rng, kinds);
  const task = clip.audioType;
  const fill = (correct: string, pool: string[], n: number) => rng.shuffle([correct, ...rng.shuffle(pool.filter((p) => p !== correct)).slice(0, n - 1)]);
  switch (kind) {
    case 'identify': {
      const absent = absentClasses(clip).map((c) => c.name);
      return {
        question: task === 'music' ? 'which instrument can be heard in this clip?' : 'which sound can be heard in this clip?',
        choices: fill(ev.class, absent, 4), answer: ev.class, task,
        category: 'Information Extraction', 'sub-category': task === 'music' ? 'Instrument Identification' : 'Sound Identification', difficulty: 'easy',
      };
    }
    case 'order': {
      const first = rng.uniform() < 0.5;
      const answer = first ? clip.events[0].class : clip.events[clip.events.length - 1].class;
      const others = [...clipLabels(clip).filter((l) => l !== answer), ...rng.shuffle(absentClasses(clip).map((c) => c.name))];
      return {
        question: first ? 'which sound is heard first?' : 'which sound is heard last?',
        choices: rng.shuffle([answer, ...others.slice(0, 3)]), answer, task,
        category: 'Reasoning', 'sub-category': 'Temporal Ordering', difficulty: 'hard',
      };
    }
    case 'pitch':
      return {
        question: `what is the pitch of the ${noun}?`, choices: rng.shuffle(['high', 'low']), answer: ev.pitch!, task,
        category: 'Information Extraction', 'sub-category': 'Pitch Perception', difficulty: 'medium',
      };
    case 'count':
      return {
        question: `how many times does the ${noun} sound?`, choices: ['one', 'two', 'three', 'four'], answer: NUMBER_WORDS[ev.count], task,
        category: 'Reasoning', 'sub-category': 'Event Counting', difficulty: 'hard',
      };
    case 'duration':
      return {
        question: `how long does the ${noun} last?`, choices: rng.shuffle(['short', 'long']), answer: ev.duration!, task,
        category: 'Information Extraction', 'sub-category': 'Duration Perception', difficulty: 'medium',
      };
    case 'sources':
      return {
        question: 'how many different sounds are there in this clip?', choices: ['one', 'two', 'three', 'four'],
        answer: NUMBER_WORDS[new Set(clip.events.map((e) => e.class)).size], task,
        category: 'Reasoning', 'sub-category': 'Source Counting', difficulty: 'medium',
      };
    default:
      return {
        question: `how loud is the ${noun}?`, choices: rng.shuffle(['quiet', 'loud']), answer: ev.loudness, task,
        category: 'Information Extraction', 'sub-category': 'Loudness Perception', difficulty: 'easy',
      };
  }
}
