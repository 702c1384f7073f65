#!/usr/bin/env node
// Checks the nx project graph: every expected package and app exists, no package depends on an app,
// and there is no dependency cycle. Run: node tools/check-graph.mjs
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const expectedPackages = ['core', 'datasets', 'clap', 'santa', 'mapper', 'llm-lora', 'bench', 'model'].map((n) => `@mats/${n}`);
const expectedApps = ['trainer', 'evaluator'];

const file = join(mkdtempSync(join(tmpdir(), 'mats-graph-')), 'graph.json');
execFileSync('npx', ['nx', 'graph', `--file=${file}`], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, NX_DAEMON: 'false' } });
const { graph } = JSON.parse(readFileSync(file, 'utf8'));
const problems = [];
for (const name of [...expectedPackages, ...expectedApps]) if (!graph.nodes[name]) problems.push(`missing project ${name}`);
const isApp = (name) => graph.nodes[name]?.type === 'app' || expectedApps.includes(name);
const deps = (name) => (graph.dependencies[name] ?? []).map((d) => d.target).filter((t) => graph.nodes[t]);
for (const name of expectedPackages) {
  for (const target of deps(name)) if (isApp(target)) problems.push(`package ${name} depends on app ${target}`);
}
// Depth-first search for a cycle.
const state = new Map();
const visit = (name, path) => {
  if (state.get(name) === 'done') return;
  if (state.get(name) === 'active') {
    problems.push(`cycle: ${[...path.slice(path.indexOf(name)), name].join(' -> ')}`);
    return;
  }
  state.set(name, 'active');
  for (const t of deps(name)) visit(t, [...path, name]);
  state.set(name, 'done');
};
for (const name of Object.keys(graph.nodes)) visit(name, []);
if (problems.length) {
  console.error(`project graph check failed:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`project graph ok: ${Object.keys(graph.nodes).length} projects, no package depends on an app, no cycle`);
