#!/usr/bin/env node
// Adds up the vitest JSON reports of every project (written by each `test` target) and prints one
// closing line, "Tests: N passed, N failed, N skipped", so a CI log states what ran.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(new URL('..', import.meta.url).pathname);
let passed = 0;
let failed = 0;
let skipped = 0;
const rows = [];
const projectDirs = ['packages', 'apps'].flatMap((group) => readdirSync(join(root, group)).sort().map((name) => `${group}/${name}`));
projectDirs.push('benchmarks');
{
  for (const dir of projectDirs) {
    const file = join(root, dir, 'test-results.json');
    if (!existsSync(file)) continue;
    const r = JSON.parse(readFileSync(file, 'utf8'));
    passed += r.numPassedTests;
    failed += r.numFailedTests;
    skipped += r.numPendingTests + (r.numTodoTests ?? 0);
    rows.push(`  ${dir.padEnd(22)} ${r.numPassedTests} passed, ${r.numFailedTests} failed`);
  }
}
console.log(rows.join('\n'));
console.log(`Tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
