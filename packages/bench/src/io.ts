import { readFileSync } from 'node:fs';
import { describe } from './caption/metrics.js';

/** Reads and parses a JSON file; errors name the file and what went wrong. */
export function readJsonFile(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`${what} ${path}: cannot read file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (e) {
    throw new Error(`${what} ${path}: not valid JSON (${(e as Error).message})`);
  }
}

function idOf(row: Record<string, unknown>, where: string): string {
  const id = row.id;
  if (typeof id === 'string' && id !== '') return id;
  if (typeof id === 'number' && Number.isFinite(id)) return String(id);
  throw new Error(`${where}: field "id" must be a non-empty string or a number, got ${describe(id)}`);
}

function rowsOf(data: unknown, file: string, what: string, shape: string): Record<string, unknown>[] {
  if (!Array.isArray(data)) throw new Error(`${what} ${file}: expected a JSON array of ${shape}, got ${describe(data)}`);
  return data.map((row, i) => {
    if (row === null || typeof row !== 'object' || Array.isArray(row)) {
      throw new Error(`${what} ${file}: row ${i}: expected an object ${shape}, got ${describe(row)}`);
    }
    return row as Record<string, unknown>;
  });
}

/** `[{ "id", "caption" }]` -> Map id -> caption. */
export function parseCaptionPredictions(data: unknown, file = '<predictions>'): Map<string, string> {
  const out = new Map<string, string>();
  rowsOf(data, file, 'predictions', '{ "id", "caption" }').forEach((row, i) => {
    const where = `predictions ${file}: row ${i}`;
    const id = idOf(row, where);
    if (typeof row.caption !== 'string') throw new Error(`${where} (id ${id}): field "caption" must be a string, got ${describe(row.caption)}`);
    if (out.has(id)) throw new Error(`${where}: duplicate id ${JSON.stringify(id)}`);
    out.set(id, row.caption);
  });
  return out;
}

/** `[{ "id", "captions": [...] }]` -> Map id -> captions. */
export function parseCaptionReferences(data: unknown, file = '<references>'): Map<string, string[]> {
  const out = new Map<string, string[]>();
  rowsOf(data, file, 'references', '{ "id", "captions": [...] }').forEach((row, i) => {
    const where = `references ${file}: row ${i}`;
    const id = idOf(row, where);
    const caps = row.captions;
    if (!Array.isArray(caps) || caps.length === 0) {
      throw new Error(`${where} (id ${id}): field "captions" must be a non-empty array of strings, got ${describe(caps)}`);
    }
    caps.forEach((c, k) => {
      if (typeof c !== 'string') throw new Error(`${where} (id ${id}): captions[${k}] must be a string, got ${describe(c)}`);
    });
    if (out.has(id)) throw new Error(`${where}: duplicate id ${JSON.stringify(id)}`);
    out.set(id, caps as string[]);
  });
  return out;
}

/** `[{ "id", "prediction" }]` -> Map id -> prediction text. */
export function parseTextPredictions(data: unknown, file = '<predictions>'): Map<string, string> {
  const out = new Map<string, string>();
  rowsOf(data, file, 'predictions', '{ "id", "prediction" }').forEach((row, i) => {
    const where = `predictions ${file}: row ${i}`;
    const id = idOf(row, where);
    if (typeof row.prediction !== 'string') throw new Error(`${where} (id ${id}): field "prediction" must be a string, got ${describe(row.prediction)}`);
    if (out.has(id)) throw new Error(`${where}: duplicate id ${JSON.stringify(id)}`);
    out.set(id, row.prediction);
  });
  return out;
}

export interface LabelFile {
  /** the class names, in score-column order */
  labels: string[];
  /** id -> indices of the item's true classes */
  targets: Map<string, number[]>;
}

/** `{ "labels": [...], "items": [{ "id", "labels": [...] } | { "id", "label" }] }`. */
export function parseLabelFile(data: unknown, file = '<labels>'): LabelFile {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new Error(`labels ${file}: expected an object { "labels": [...], "items": [{ "id", "labels" }] }, got ${describe(data)}`);
  }
  const obj = data as Record<string, unknown>;
  const labels = obj.labels;
  if (!Array.isArray(labels) || labels.length === 0 || labels.some((l) => typeof l !== 'string')) {
    throw new Error(`labels ${file}: field "labels" must be a non-empty array of strings (the class names)`);
  }
  const index = new Map<string, number>();
  (labels as string[]).forEach((l, i) => {
    if (index.has(l)) throw new Error(`labels ${file}: class ${JSON.stringify(l)} is listed twice in "labels"`);
    index.set(l, i);
  });
  const targets = new Map<string, number[]>();
  rowsOf(obj.items, file, 'labels', '{ "id", "labels": [...] }').forEach((row, i) => {
    const where = `labels ${file}: items[${i}]`;
    const id = idOf(row, where);
    const names = Array.isArray(row.labels) ? row.labels : typeof row.label === 'string' ? [row.label] : null;
    if (!names || names.length === 0) throw new Error(`${where} (id ${id}): needs "labels" (non-empty array) or "label" (string)`);
    const idx = names.map((n) => {
      const k = typeof n === 'string' ? index.get(n) : undefined;
      if (k === undefined) throw new Error(`${where} (id ${id}): label ${JSON.stringify(n)} is not one of the ${labels.length} classes in "labels"`);
      return k;
    });
    if (targets.has(id)) throw new Error(`${where}: duplicate id ${JSON.stringify(id)}`);
    targets.set(id, idx);
  });
  return { labels: labels as string[], targets };
}

/** Both maps must hold exactly the same ids; the error lists the differences. */
export function checkSameIds(a: Map<string, unknown>, aName: string, b: Map<string, unknown>, bName: string): void {
  const onlyA = [...a.keys()].filter((k) => !b.has(k));
  const onlyB = [...b.keys()].filter((k) => !a.has(k));
  if (onlyA.length === 0 && onlyB.length === 0) return;
  const show = (ids: string[]) => ids.slice(0, 10).map((x) => JSON.stringify(x)).join(', ') + (ids.length > 10 ? `, ... (${ids.length} in all)` : '');
  const parts: string[] = [];
  if (onlyB.length) parts.push(`${onlyB.length} id(s) only in ${bName}: ${show(onlyB)}`);
  if (onlyA.length) parts.push(`${onlyA.length} id(s) only in ${aName}: ${show(onlyA)}`);
  throw new Error(`${aName} and ${bName} must cover the same ids; ${parts.join('; ')}`);
}
