#!/usr/bin/env node
// Writes AudioTIA-shaped, text-only JSONL records with world-like texts, for measuring the trainer at
// scale (apps/trainer/README.md, "Measured at 200 k records"):
//   node apps/trainer/scripts/make-records.mjs world/train.jsonl OUT_DIR 200000 [sources=2]
// Each text recombines 2-3 clauses of the world's texts (so the tiny CLAP and tiny GPT-2 know every
// word); the instruction and answer follow the world's tasks (cls: the label list, cap: the text, aqa:
// a yes/no question). Seeded: the same arguments give the same files.
import { createReadStream, createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const [worldFile, outDir, countText, sourcesText = '2'] = process.argv.slice(2);
if (!worldFile || !outDir || !countText) {
  console.error('usage: make-records.mjs WORLD_TRAIN_JSONL OUT_DIR COUNT [SOURCES]');
  process.exit(2);
}
const count = Number(countText);
const sources = Number(sourcesText);
const clauses = new Set();
const labels = [];
const questions = [];
for await (const line of createInterface({ input: createReadStream(worldFile) })) {
  if (!line.trim()) continue;
  const r = JSON.parse(line);
  for (const c of r.text.split(/, (?:then |next |and finally |and then )?/)) clauses.add(c.trim());
  if (r.task === 'cls') labels.push(r.answer);
  if (r.task === 'aqa') questions.push([r.instruction, r.answer]);
}
const pool = [...clauses];
let state = 12345;
const rand = (n) => {
  state = (Math.imul(state, 1103515245) + 12345) >>> 0;
  return state % n;
};
mkdirSync(outDir, { recursive: true });
const outs = Array.from({ length: sources }, (_, s) => createWriteStream(join(outDir, `part-${s}.jsonl`)));
const write = (out, text) => (out.write(text) ? Promise.resolve() : new Promise((r) => out.once('drain', r)));
for (let i = 0; i < count; i++) {
  const n = 2 + rand(2);
  const text = Array.from({ length: n }, () => pool[rand(pool.length)]).join(', then ');
  const task = ['cls', 'cap', 'aqa'][i % 3];
  let instruction = 'Generate audio caption.';
  let answer = text;
  if (task === 'cls') [instruction, answer] = ['Classify events in the audio clip.', labels[rand(labels.length)] ?? 'sound'];
  if (task === 'aqa' && questions.length > 0) [instruction, answer] = questions[rand(questions.length)];
  const record = { id: `gen-${String(i).padStart(7, '0')}-${task}`, text, instruction, answer, task, audioType: 'sound', source: 'generated' };
  await write(outs[i % sources], `${JSON.stringify(record)}\n`);
}
await Promise.all(outs.map((o) => new Promise((r) => o.end(r))));
console.error(`wrote ${count} records (${pool.length} distinct clauses) into ${sources} file(s) in ${outDir}`);
