/**
 * A descriptions file gives the text CLAP embeds for data sets that have none: classification sets
 * (keyed by label: the paper wrote descriptions of each class with GPT-4o-mini) and question sets
 * (keyed by clip file name: e.g. the Clotho captions of the ClothoAQA clips). Two formats:
 *
 *   JSON   { "dog bark": ["a dog barks twice", "a small dog yelps"], "rain": "rain falls on a roof" }
 *   JSONL  {"key": "dog bark", "descriptions": ["a dog barks twice", ...]}   (one key per line)
 *
 * Label keys are matched without case and with "_" read as a space ("Dog_bark" = "dog bark"); clip
 * keys exactly, then by file name alone ("development/a.wav" finds "a.wav").
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { hashString } from '@mats/core';

export class Descriptions {
  private readonly byKey = new Map<string, string[]>();

  constructor(
    readonly file: string,
    entries: Iterable<[string, string[]]>,
  ) {
    for (const [k, v] of entries) {
      const key = normalise(k);
      this.byKey.set(key, [...(this.byKey.get(key) ?? []), ...v]);
    }
  }

  get size(): number {
    return this.byKey.size;
  }

  /** All descriptions of a key, or undefined. */
  get(key: string): string[] | undefined {
    return this.byKey.get(normalise(key)) ?? this.byKey.get(normalise(basename(key)));
  }

  /** One description of `key`, chosen by the hash of `salt` (so the same clip always gets the same one). */
  pick(key: string, salt: string): string | undefined {
    const all = this.get(key);
    if (!all || all.length === 0) return undefined;
    return all[hashString(`${salt}/${key}`) % all.length];
  }
}

function normalise(key: string): string {
  return key.trim().toLowerCase().replace(/_/g, ' ').replace(/\s+/g, ' ');
}

function textList(file: string, where: string, value: unknown): string[] {
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length === 0 || list.some((s) => typeof s !== 'string' || s.trim() === '')) {
    throw new Error(`${file}: ${where}: expected a non-empty string or a non-empty list of non-empty strings, got ${JSON.stringify(value)?.slice(0, 80)}`);
  }
  return (list as string[]).map((s) => s.trim());
}

/** Reads a descriptions file (see the module comment); errors name the file and the line or key. */
export function readDescriptions(file: string): Descriptions {
  if (!existsSync(file)) throw new Error(`--descriptions ${file}: file not found`);
  const raw = readFileSync(file, 'utf8').replace(/^\ufeff/, '');
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return readJsonlDescriptions(file, raw); // not one JSON value: JSON Lines
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) throw new Error(`${file}: expected a JSON object of key -> descriptions, or JSON Lines of {"key", "descriptions"}`);
  if (typeof (data as Record<string, unknown>).key === 'string') return readJsonlDescriptions(file, raw); // a one-line JSONL file
  return new Descriptions(file, Object.entries(data as Record<string, unknown>).map(([k, v]) => [k, textList(file, `key "${k}"`, v)]));
}

function readJsonlDescriptions(file: string, raw: string): Descriptions {
  const entries: [string, string[]][] = [];
  raw.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (err) {
      throw new Error(`${file}:${i + 1}: line is not valid JSON (${(err as Error).message})`);
    }
    const o = v as Record<string, unknown>;
    if (typeof o?.key !== 'string') throw new Error(`${file}:${i + 1}: field "key" must be a string, got ${JSON.stringify(o?.key)}`);
    entries.push([o.key, textList(file, `line ${i + 1} field "descriptions"`, o.descriptions)]);
  });
  return new Descriptions(file, entries);
}
