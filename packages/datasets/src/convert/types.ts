/**
 * What a converter is: it reads one publisher's layout under `--root` and yields items of three
 * shapes (captioned clips, labelled clips, questions); `convertDataset` (run.ts) turns items into
 * AudioTIA records with the Table S8 instructions and writes them.
 */
import type { AudioType } from '../records.js';

/** A clip with reference captions: one `cap` record per caption (text = answer = the caption). */
export interface CaptionItem {
  kind: 'caption';
  id: string;
  /** Path of the clip: absolute, or relative to the current directory (joined from the root). */
  audio: string;
  captions: string[];
  audioType: AudioType;
}

/** A clip with class labels: one `cls` record (text from the descriptions file, or the labels). */
export interface LabelItem {
  kind: 'labels';
  id: string;
  audio: string;
  labels: string[];
  audioType: AudioType;
}

/** A question about a clip: one `aqa` (or `mcq`) record; the text describing the clip comes from the descriptions file. */
export interface QuestionItem {
  kind: 'question';
  id: string;
  audio: string;
  /** The key to look the clip's description up with (its file name as the publisher writes it). */
  clipKey: string;
  instruction: string;
  answer: string;
  task: 'aqa' | 'mcq' | 'cls' | 'cap';
  audioType: AudioType;
  /** The question alone (for `--format eval`); the instruction may be a longer prompt. */
  question?: string;
  /** A sub-source, e.g. OpenAQA's `dataset` field ("openaqa/audioset"). */
  source?: string;
}

export type ConvertItem = CaptionItem | LabelItem | QuestionItem;

export interface ConverterContext {
  /** The dataset root (`--root`). */
  root: string;
  /** `--split`, or the converter's default split. */
  split: string;
  /** `--audio-dir` when given, else `join(root, fallback)`: the folder the clips are in. */
  audioDir(fallback: string): string;
  /** Malformed rows: throw, or with `--skip-bad` skip and count them with the reason. */
  bad(message: string): void;
  /** Rows left out on purpose (not an error), counted in the summary with the reason. */
  skip(reason: string): void;
  skipBad: boolean;
}

export interface Converter {
  /** The name on the command line (`mats-data convert <name>`). */
  name: string;
  /** The publisher's name of the data set. */
  title: string;
  /** Which tasks it gives (for the help text). */
  task: 'cls' | 'cap' | 'aqa' | 'mcq';
  audioType: AudioType;
  /** The layout under `--root` it expects, for the help text and the README. */
  layout: string;
  splits: string[];
  defaultSplit: string;
  /**
   * What the descriptions file is keyed by, when the data set has no description of its clips:
   * `label` (classification sets: label -> descriptions) or `clip` (question sets: clip file -> descriptions).
   */
  descriptions: 'none' | 'label' | 'clip';
  items(ctx: ConverterContext): AsyncIterable<ConvertItem>;
}
