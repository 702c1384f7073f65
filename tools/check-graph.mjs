#!/usr/bin/env node
// Checks the nx project graph: every expected package and app exists, no package depends on an app,
// and there is no dependency cycle; and inside every package and app, no import cycle between the
// files of src/ (relative `import ... from './x.js'`, `export ... from './x.js'`, `import('./x.js')`,
// type-only imports included). Run: node tools/check-graph.mjs
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Every .ts file under dir. */
function tsFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...tsFiles(path));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** Relative specifiers a file imports or re-exports (comments stripped first). */
export function relativeImports(source) {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  const specs = [];
  const patterns = [/\b(?:import|export)\s[^;'"`]*?\sfrom\s*['"](\.{1,2}\/[^'"]+)['"]/g, /\bimport\s*['"](\.{1,2}\/[^'"]+)['"]/g, /\bimport\s*\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g];
  for (const re of patterns) for (const m of code.matchAll(re)) specs.push(m[1]);
  return specs;
}

/** './x.js' from file -> the .ts file it names (x.ts, or x/index.ts), or null outside the package. */
function resolveImport(file, spec) {
  const base = resolve(dirname(file), spec);
  for (const candidate of [base.replace(/\.js$/, '.ts'), base + '.ts', join(base.replace(/\.js$/, ''), 'index.ts')]) {
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

/** Import cycles between the files of one src/ folder, each as a list of paths relative to the repo. */
function fileCycles(srcDir) {
  const edges = new Map();
  for (const file of tsFiles(srcDir)) {
    edges.set(file, relativeImports(readFileSync(file, 'utf8')).map((s) => resolveImport(file, s)).filter((t) => t && t.startsWith(srcDir)));
  }
  const cycles = [];
  const state = new Map();
  const visit = (file, path) => {
    if (state.get(file) === 'done') return;
    if (state.get(file) === 'active') {
      cycles.push([...path.slice(path.indexOf(file)), file].map((f) => relative(root, f)));
      return;
    }
    state.set(file, 'active');
    for (const t of edges.get(file) ?? []) visit(t, [...path, file]);
    state.set(file, 'done');
  };
  for (const file of edges.keys()) visit(file, []);
  return cycles;
}

const fileProblems = [];
let folders = 0;
for (const group of ['packages', 'apps']) {
  const groupDir = join(root, group);
  if (!existsSync(groupDir)) continue;
  for (const name of readdirSync(groupDir)) {
    const src = join(groupDir, name, 'src');
    if (!existsSync(src)) continue;
    folders++;
    for (const cycle of fileCycles(src)) fileProblems.push(`file import cycle: ${cycle.join(' -> ')}`);
  }
}
if (fileProblems.length) {
  console.error(`file graph check failed:\n  ${fileProblems.join('\n  ')}`);
  process.exit(1);
}
console.log(`file graph ok: no import cycle between the files of ${folders} src/ folders`);

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
