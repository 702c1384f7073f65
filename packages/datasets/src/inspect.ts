/** `mats-data inspect FILE`: counts per task / source / audio type and a few examples. */
import { readFileSync } from 'node:fs';
import { readJsonlLines } from './jsonl.js';
import { validateRecord } from './records.js';

const RECORD_FIELDS = ['text', 'instruction', 'answer', 'task', 'audioType', 'source', 'id'];
const MAX_ERRORS = 5;

export interface Inspection {
  file: string;
  kind: 'records' | 'json-array' | 'jsonl';
  total: number;
  byTask: Record<string, number>;
  bySource: Record<string, number>;
  byAudioType: Record<string, number>;
  fields: string[];
  examples: unknown[];
  /**
   * When the file holds AudioTIA records (its items use at least three of their fields): how many
   * items fail validateRecord, and the first few messages (file:line or file:item, field, got).
   */
  invalid: number;
  errors: string[];
}

function bump(map: Record<string, number>, key: unknown): void {
  if (typeof key !== 'string') return;
  map[key] = (map[key] ?? 0) + 1;
}

/** Streams a JSONL file (or reads a JSON array) and summarises it. */
export async function inspectFile(path: string, options: { examples?: number } = {}): Promise<Inspection> {
  const keep = options.examples ?? 3;
  const report: Inspection = { file: path, kind: 'jsonl', total: 0, byTask: {}, bySource: {}, byAudioType: {}, fields: [], examples: [], invalid: 0, errors: [] };
  const fields = new Set<string>();
  const checks: { value: unknown; where: string }[] = [];
  const check = (v: unknown, where: string) => {
    try {
      validateRecord(v, where);
    } catch (err) {
      report.invalid++;
      if (report.errors.length < MAX_ERRORS) report.errors.push((err as Error).message);
    }
  };
  const visit = (v: unknown, where: string) => {
    report.total++;
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const r = v as Record<string, unknown>;
      Object.keys(r).forEach((k) => fields.add(k));
      bump(report.byTask, r.task);
      bump(report.bySource, r.source ?? r.dataset);
      bump(report.byAudioType, r.audioType);
    }
    if (report.examples.length < keep) report.examples.push(v);
    // Records are recognised from the fields seen so far; items before that are checked afterwards.
    if (RECORD_FIELDS.filter((f) => fields.has(f)).length >= 3) {
      for (const c of checks.splice(0)) check(c.value, c.where);
      check(v, where);
    } else if (checks.length < 1000) checks.push({ value: v, where });
  };
  if (path.endsWith('.json')) {
    let data: unknown;
    try {
      const text = readFileSync(path, 'utf8');
    data = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
    } catch (err) {
      throw new Error(`${path}: not valid JSON (${(err as Error).message})`);
    }
    if (!Array.isArray(data)) throw new Error(`${path}: expected a JSON array of items, got ${typeof data}`);
    report.kind = 'json-array';
    data.forEach((v, i) => visit(v, `${path}: item ${i}`));
  } else {
    for await (const { value, line } of readJsonlLines(path)) visit(value, `${path}:${line}`);
  }
  report.fields = [...fields];
  if (RECORD_FIELDS.filter((f) => fields.has(f)).length >= 3) report.kind = 'records';
  return report;
}

export function formatInspection(r: Inspection): string {
  const table = (title: string, m: Record<string, number>) =>
    Object.keys(m).length === 0 ? '' : `${title}:\n${Object.entries(m).sort((a, b) => b[1] - a[1]).map(([k, v]) => `  ${k.padEnd(24)} ${v}`).join('\n')}\n`;
  const head =
    r.kind !== 'records'
      ? `${r.file}: ${r.total} items (${r.kind})`
      : r.invalid === 0
        ? `${r.file}: ${r.total} valid AudioTIA records`
        : `${r.file}: ${r.total} AudioTIA records, ${r.invalid} INVALID (first ${r.errors.length}):\n${r.errors.map((e) => `  ${e}`).join('\n')}`;
  return [
    head,
    `fields: ${r.fields.join(', ')}`,
    table('per task', r.byTask) + table('per source', r.bySource) + table('per audio type', r.byAudioType),
    'examples:',
    ...r.examples.map((e) => '  ' + JSON.stringify(e)),
  ].join('\n');
}
