/** `mats-data inspect FILE`: counts per task / source / audio type and a few examples. */
import { readFileSync } from 'node:fs';
import { readJsonlLines } from './jsonl.js';

export interface Inspection {
  file: string;
  kind: 'records' | 'json-array' | 'jsonl';
  total: number;
  byTask: Record<string, number>;
  bySource: Record<string, number>;
  byAudioType: Record<string, number>;
  fields: string[];
  examples: unknown[];
}

function bump(map: Record<string, number>, key: unknown): void {
  if (typeof key !== 'string') return;
  map[key] = (map[key] ?? 0) + 1;
}

/** Streams a JSONL file (or reads a JSON array) and summarises it. */
export async function inspectFile(path: string, options: { examples?: number } = {}): Promise<Inspection> {
  const keep = options.examples ?? 3;
  const report: Inspection = { file: path, kind: 'jsonl', total: 0, byTask: {}, bySource: {}, byAudioType: {}, fields: [], examples: [] };
  const fields = new Set<string>();
  const visit = (v: unknown) => {
    report.total++;
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const r = v as Record<string, unknown>;
      Object.keys(r).forEach((k) => fields.add(k));
      bump(report.byTask, r.task);
      bump(report.bySource, r.source ?? r.dataset);
      bump(report.byAudioType, r.audioType);
    }
    if (report.examples.length < keep) report.examples.push(v);
  };
  if (path.endsWith('.json')) {
    let data: unknown;
    try {
      data = JSON.parse(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new Error(`${path}: not valid JSON (${(err as Error).message})`);
    }
    if (!Array.isArray(data)) throw new Error(`${path}: expected a JSON array of items, got ${typeof data}`);
    report.kind = 'json-array';
    data.forEach(visit);
  } else {
    for await (const { value } of readJsonlLines(path)) visit(value);
  }
  report.fields = [...fields];
  if (['text', 'instruction', 'answer', 'task'].every((f) => fields.has(f))) report.kind = 'records';
  return report;
}

export function formatInspection(r: Inspection): string {
  const table = (title: string, m: Record<string, number>) =>
    Object.keys(m).length === 0 ? '' : `${title}:\n${Object.entries(m).sort((a, b) => b[1] - a[1]).map(([k, v]) => `  ${k.padEnd(24)} ${v}`).join('\n')}\n`;
  return [
    `${r.file}: ${r.total} ${r.kind === 'records' ? 'AudioTIA records' : 'items'} (${r.kind})`,
    `fields: ${r.fields.join(', ')}`,
    table('per task', r.byTask) + table('per source', r.bySource) + table('per audio type', r.byAudioType),
    'examples:',
    ...r.examples.map((e) => '  ' + JSON.stringify(e)),
  ].join('\n');
}
