import { join } from 'node:path';
import { writeFileAtomic } from '@mats/core';
import { writeJson } from '@mats/app-shared';
import type { TableRow, TaskOutcome } from './tasks.js';

/** A GitHub-flavoured Markdown table. */
export function markdownTable(header: string[], rows: TableRow[]): string {
  const esc = (c: string | number) => String(c).replace(/\|/g, '\\|');
  return [`| ${header.map(esc).join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`)].join('\n');
}

export interface ReportContext {
  target: string;
  runDir: string;
  runName: string;
  /** Which engine answered (tfjs or ONNX Runtime), in words. */
  engine: string;
  method: string;
  data: string;
  seconds: number;
}

/** Writes predictions.json, report.json, report.md and (when items failed) failures.json; returns the Markdown. */
export function writeTaskReport(dir: string, outcome: TaskOutcome, ctx: ReportContext): string {
  writeJson(join(dir, 'predictions.json'), outcome.predictions);
  if (outcome.failures.length > 0) writeJson(join(dir, 'failures.json'), outcome.failures);
  const report = {
    target: ctx.target,
    run: ctx.runDir,
    engine: ctx.engine,
    method: ctx.method,
    data: ctx.data,
    items: outcome.items,
    failed: outcome.failures.length,
    headline: outcome.headline,
    metrics: outcome.metrics,
    seconds: Math.round(ctx.seconds * 10) / 10,
    createdAt: new Date().toISOString(),
  };
  writeJson(join(dir, 'report.json'), report);
  const h = outcome.headline;
  const lines = [
    `# ${ctx.target} - run ${ctx.runName} (${ctx.method})`,
    '',
    `Engine: ${ctx.engine}.`,
    '',
    `Data: \`${ctx.data}\`, ${outcome.items} items, ${outcome.failures.length} failed (unreadable audio; counted as wrong).`,
    '',
    `**${h.metric}: ${h.value.toFixed(h.metric.includes('%') ? 2 : 4)}** (chance / baseline: ${h.chance.toFixed(h.metric.includes('%') ? 2 : 4)}, ${h.chanceNote})`,
    '',
  ];
  for (const t of outcome.tables) lines.push(`## ${t.title}`, '', markdownTable(t.header, t.rows), '');
  if (outcome.failures.length > 0) {
    lines.push('## Failed items', '', markdownTable(['id', 'audio', 'error'], outcome.failures.slice(0, 50).map((f) => [f.id, f.audio, f.error])), '');
    if (outcome.failures.length > 50) lines.push(`(${outcome.failures.length - 50} more in failures.json)`, '');
  }
  const md = lines.join('\n');
  writeFileAtomic(join(dir, 'report.md'), md);
  return md;
}
