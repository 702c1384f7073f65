#!/usr/bin/env node
// Adds up the vitest JSON reports of every project (written by each `test` target) and prints one
// closing line, "Tests: N passed, N failed, N skipped", so a CI log states what ran. A task that
// failed without counting a failed test also counts as failed there: a project with a `test` script
// but no report (the task crashed or never ran), a report whose run did not succeed (a vitest worker
// error, an unhandled error, a file that failed to load). Exit status 1 when anything failed.
// `--nx-log FILE` (the output of `nx run-many -t test`): a task nx lists under "Failed tasks" counts
// as failed even when its JSON report looks clean (vitest leaves unhandled errors, such as
// `Timeout calling "onTaskUpdate"` from a blocked worker, out of the JSON report).
// `--clean` deletes the reports first (run before the tests, so a stale report never counts).
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

// `--root DIR` reads another checkout (the tests of this script use a made-up one).
const rootArg = process.argv.indexOf('--root');
const root = rootArg >= 0 ? resolve(process.argv[rootArg + 1]) : resolve(new URL('..', import.meta.url).pathname);
const projectDirs = ['packages', 'apps'].filter((group) => existsSync(join(root, group))).flatMap((group) => readdirSync(join(root, group)).sort().map((name) => `${group}/${name}`));
if (existsSync(join(root, 'benchmarks'))) projectDirs.push('benchmarks');
const hasTests = (dir) => {
  const file = join(root, dir, 'package.json');
  return existsSync(file) && typeof JSON.parse(readFileSync(file, 'utf8')).scripts?.test === 'string';
};
const reports = [...projectDirs.map((dir) => ({ dir, file: join(root, dir, 'test-results.json') })), { dir: 'doc-test (READMEs)', file: join(root, 'doc-test-results.json'), optional: true }];

if (process.argv.includes('--clean')) {
  for (const r of reports) rmSync(r.file, { force: true });
  for (const f of ['test-output.log', 'test-status.txt']) rmSync(join(root, f), { force: true });
  process.exit(0);
}

/** Projects nx says failed (`- name:test` lines after "Failed tasks:"), mapped to their folders. */
function nxFailedDirs() {
  const at = process.argv.indexOf('--nx-log');
  if (at < 0) return new Map();
  const file = resolve(process.argv[at + 1]);
  if (!existsSync(file)) return new Map();
  const text = readFileSync(file, 'utf8').replace(/\x1b\[[0-9;]*m/g, '');
  const names = new Set();
  const section = text.lastIndexOf('Failed tasks:');
  if (section >= 0) for (const m of text.slice(section).matchAll(/^\s*- (\S+):test\s*$/gm)) names.add(m[1]);
  const out = new Map();
  for (const dir of projectDirs) {
    const pkgFile = join(root, dir, 'package.json');
    if (!existsSync(pkgFile)) continue;
    const pkg = JSON.parse(readFileSync(pkgFile, 'utf8'));
    const name = pkg.nx?.name ?? pkg.name;
    if (names.has(name)) out.set(dir, name);
  }
  return out;
}
const nxFailed = nxFailedDirs();

let passed = 0;
let failed = 0;
let skipped = 0;
const failedTasks = [];
const rows = [];
for (const { dir, file, optional } of reports) {
  if (!existsSync(file)) {
    if (!optional && hasTests(dir)) {
      failedTasks.push(`${dir} (no test report: the task failed before vitest wrote one, or did not run)`);
      rows.push(`  ${dir.padEnd(22)} NO REPORT`);
    }
    continue;
  }
  let r;
  try {
    r = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    failedTasks.push(`${dir} (unreadable report ${file}: ${err.message})`);
    continue;
  }
  passed += r.numPassedTests ?? 0;
  failed += r.numFailedTests ?? 0;
  skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  const notes = [];
  const brokenFiles = (r.testResults ?? []).filter((t) => t.status === 'failed' && (t.assertionResults ?? []).every((a) => a.status !== 'failed'));
  for (const t of brokenFiles) notes.push(`${t.name.replace(`${root}/`, '')}: ${String(t.message || 'failed').split('\n')[0]}`);
  if (r.success === false && (r.numFailedTests ?? 0) === 0 && brokenFiles.length === 0) notes.push('the run did not succeed (a worker or unhandled error; see the log above)');
  if (notes.length === 0 && (r.numFailedTests ?? 0) === 0 && nxFailed.has(dir)) notes.push(`nx reports ${nxFailed.get(dir)}:test failed although its report counts no failed test (a vitest worker or unhandled error; see its output above)`);
  for (const n of notes) failedTasks.push(`${dir} (${n})`);
  rows.push(`  ${dir.padEnd(22)} ${r.numPassedTests} passed, ${r.numFailedTests} failed${notes.length ? `, ${notes.length} task error(s)` : ''}`);
}
console.log(rows.join('\n'));
if (failedTasks.length) console.log(`failed tasks:\n${failedTasks.map((t) => `  ${t}`).join('\n')}`);
console.log(`Tests: ${passed} passed, ${failed + failedTasks.length} failed, ${skipped} skipped${failedTasks.length ? ` (${failed} failed tests, ${failedTasks.length} failed tasks)` : ''}`);
process.exit(failed + failedTasks.length > 0 ? 1 : 0);
