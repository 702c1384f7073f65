/** Writing and reading the world folder (format: /work/briefs/world-format.md, mirrored in README.md). */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeFileAtomic, type Progress } from '@mats/core';
import { encodeWav } from '../audio/wav.js';
import { readJsonl, writeJsonl, readRecords } from '../jsonl.js';
import type { AudioTIARecord } from '../records.js';
import type { WorldClipSpec } from './text.js';
import { renderClip, clipAudioPath, type World, type WorldManifest, type PretrainPair, type ClassificationItem, type CaptionItem, type AqaItem, type MmauItem } from './generate.js';

export interface WriteWorldOptions {
  /** Reports one step per clip rendered. */
  progress?: Progress;
}

function json(value: unknown): string {
  return JSON.stringify(value, null, 1) + '\n';
}

/** Writes the world: audio/<id>.wav (PCM16 mono) for every clip, then the JSON / JSONL files, manifest last. */
export async function writeWorld(world: World, dir: string, options: WriteWorldOptions = {}): Promise<void> {
  const { seed, sampleRate, clipSeconds } = world.manifest;
  mkdirSync(join(dir, 'audio'), { recursive: true });
  mkdirSync(join(dir, 'eval'), { recursive: true });
  for (const spec of world.clips) {
    writeFileSync(join(dir, clipAudioPath(spec.id)), encodeWav(renderClip(spec, seed, sampleRate, clipSeconds)));
    options.progress?.tick(1);
  }
  writeFileAtomic(join(dir, 'labels.json'), json(world.labels));
  await writeJsonl(join(dir, 'clips.jsonl'), world.clips);
  await writeJsonl(join(dir, 'pretrain.jsonl'), world.pretrain);
  await writeJsonl(join(dir, 'train.jsonl'), world.train);
  writeFileAtomic(join(dir, 'eval', 'classification.json'), json(world.eval.classification));
  writeFileAtomic(join(dir, 'eval', 'captions.json'), json(world.eval.captions));
  writeFileAtomic(join(dir, 'eval', 'aqa.json'), json(world.eval.aqa));
  writeFileAtomic(join(dir, 'eval', 'mmau.json'), json(world.eval.mmau));
  // The manifest goes last: a folder with a manifest is a complete world.
  writeFileAtomic(join(dir, 'manifest.json'), json(world.manifest));
}

/** A world read back from disk. Audio paths in items are relative to `dir`; `audioPath` resolves them. */
export interface LoadedWorld {
  dir: string;
  manifest: WorldManifest;
  labels: string[];
  pretrain: PretrainPair[];
  train: AudioTIARecord[];
  /** Clip metadata (events with attributes), keyed by clip id. */
  clips: Map<string, WorldClipSpec>;
  eval: { classification: ClassificationItem[]; captions: CaptionItem[]; aqa: AqaItem[]; mmau: MmauItem[] };
  audioPath(relative: string): string;
}

function readJson<T>(path: string): T {
  if (!existsSync(path)) throw new Error(`${path}: missing (is this a world folder? generate one with: mats-data world --out DIR --seed 0)`);
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (err) {
    throw new Error(`${path}: not valid JSON (${(err as Error).message})`);
  }
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const v of it) out.push(v);
  return out;
}

/** Reads a world folder written by `writeWorld` (or `mats-data world`). */
export async function loadWorld(dir: string): Promise<LoadedWorld> {
  const root = resolve(dir);
  const manifestPath = join(root, 'manifest.json');
  const manifest = readJson<WorldManifest>(manifestPath);
  if (manifest.format !== 'mats-world') throw new Error(`${manifestPath}: field "format" must be "mats-world", got ${JSON.stringify(manifest.format)}`);
  if (manifest.version !== 1) throw new Error(`${manifestPath}: unsupported world version ${JSON.stringify(manifest.version)} (this reader knows version 1)`);
  const labels = readJson<string[]>(join(root, 'labels.json'));
  for (const f of ['pretrain.jsonl', 'train.jsonl', 'clips.jsonl']) {
    if (!existsSync(join(root, f))) throw new Error(`${join(root, f)}: missing (the world folder is incomplete)`);
  }
  const pretrain = await collect(
    readJsonl<PretrainPair>(join(root, 'pretrain.jsonl'), {
      validate: (v, where) => {
        const p = v as PretrainPair;
        if (typeof p?.id !== 'string' || typeof p.audio !== 'string' || typeof p.caption !== 'string' || !Array.isArray(p.labels)) {
          throw new Error(`${where}: expected { id, audio, caption, labels[] }, got ${JSON.stringify(v).slice(0, 80)}`);
        }
        return p;
      },
    }),
  );
  const train = await collect(readRecords(join(root, 'train.jsonl')));
  const clipList = await collect(readJsonl<WorldClipSpec>(join(root, 'clips.jsonl')));
  const world: LoadedWorld = {
    dir: root,
    manifest,
    labels,
    pretrain,
    train,
    clips: new Map(clipList.map((c) => [c.id, c])),
    eval: {
      classification: readJson(join(root, 'eval', 'classification.json')),
      captions: readJson(join(root, 'eval', 'captions.json')),
      aqa: readJson(join(root, 'eval', 'aqa.json')),
      mmau: readJson(join(root, 'eval', 'mmau.json')),
    },
    audioPath: (relative: string) => join(root, relative),
  };
  if (pretrain.length !== manifest.counts.pretrain) throw new Error(`${join(root, 'pretrain.jsonl')}: ${pretrain.length} lines, manifest says ${manifest.counts.pretrain}`);
  if (train.length !== manifest.counts.trainRecords) throw new Error(`${join(root, 'train.jsonl')}: ${train.length} records, manifest says ${manifest.counts.trainRecords}`);
  return world;
}
