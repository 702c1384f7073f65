#!/usr/bin/env node
// README examples are tests. Packs every published package (packages/*, not private) with `npm pack`,
// installs the tarballs into an empty project outside the workspace, exactly as a user would
// (`npm install ./*.tgz`, no .npmrc, no settings), prints the install footprint of each package, then
// runs every README code block marked as an example:
//
//   <!-- doc-test -->
//   ```ts
//   ...
//   ```
//
// in every packages/*/README.md and apps/*/README.md. `ts` blocks are compiled together with `tsc
// --strict` (module NodeNext, the way a user's ESM project would) and then run with node; `js` blocks
// run as ES modules; `bash` / `sh` blocks run with `bash -e` with the installed bins on PATH. Each
// example runs in its own empty folder. Results go to doc-test-results.json (read by
// tools/test-summary.mjs); exit status 1 when any example fails.
//
// Usage: node tools/doc-test.mjs [--offline] [--only NAME[,NAME]] [--keep]
//   --offline  install from the npm cache only (`npm install --offline`): the "no network" check
//   --only     run only the READMEs of these package / app folder names (all tarballs still install)
//   --keep     keep the temporary project and print where it is
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(new URL('..', import.meta.url).pathname);
const argv = process.argv.slice(2);
const offline = argv.includes('--offline');
const keep = argv.includes('--keep');
const onlyArg = argv.indexOf('--only');
const only = onlyArg >= 0 ? new Set(argv[onlyArg + 1].split(',')) : null;
const EXAMPLE_TIMEOUT_MS = 10 * 60 * 1000;
const MARKER = /^<!--\s*doc-test\s*-->\s*$/;

const log = (s) => process.stdout.write(`${s}\n`);
const readJson = (p) => JSON.parse(readFileSync(p, 'utf8'));

// 1. Pack the published packages (they must be built: `npm test` builds them first).
const packages = readdirSync(join(root, 'packages'))
  .sort()
  .map((name) => ({ name, dir: join(root, 'packages', name) }))
  .filter((p) => existsSync(join(p.dir, 'package.json')))
  .map((p) => ({ ...p, pkg: readJson(join(p.dir, 'package.json')) }))
  .filter((p) => !p.pkg.private);
for (const p of packages) {
  const main = p.pkg.exports?.['.']?.default ?? p.pkg.main;
  if (main && !existsSync(join(p.dir, main))) {
    console.error(`doc-test: ${p.pkg.name} is not built (${join(p.dir, main)} is missing): run \`npx nx run-many -t build\` first`);
    process.exit(2);
  }
}
const work = mkdtempSync(join(tmpdir(), 'mats-doc-test-'));
const tarballDir = join(work, 'tarballs');
mkdirSync(tarballDir);
const t0 = Date.now();
const packed = JSON.parse(
  execFileSync('npm', ['pack', '--json', '--pack-destination', tarballDir, ...packages.flatMap((p) => ['--workspace', relative(root, p.dir)])], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }),
);
const tarballs = packed.map((x) => join(tarballDir, x.filename));
log(`packed ${packed.length} packages in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${packed.map((x) => `${x.name} ${(x.size / 1024).toFixed(0)} kB`).join(', ')}`);

// 2. Install them into an empty ESM project, as a user would.
const consumer = join(work, 'project');
mkdirSync(consumer);
writeFileSync(join(consumer, 'package.json'), `${JSON.stringify({ name: 'doc-test-project', private: true, type: 'module' }, null, 2)}\n`);
const t1 = Date.now();
const install = spawnSync('npm', ['install', '--no-audit', '--no-fund', offline ? '--offline' : '--prefer-offline', ...tarballs], { cwd: consumer, encoding: 'utf8' });
process.stdout.write(install.stdout);
process.stderr.write(install.stderr);
if (install.status !== 0) {
  console.error(`doc-test: \`npm install ./*.tgz\` failed (exit ${install.status}) in ${consumer}`);
  writeResults([{ name: 'npm install of the tarballs', status: 'failed', message: install.stderr.split('\n').slice(-20).join('\n') }]);
  process.exit(1);
}
log(`npm install ${offline ? '--offline ' : ''}of the tarballs: exit 0 in ${((Date.now() - t1) / 1000).toFixed(1)} s`);
printFootprints();

// 3. Collect the marked examples.
const readmes = ['packages', 'apps'].flatMap((group) =>
  readdirSync(join(root, group))
    .sort()
    .filter((name) => !only || only.has(name))
    .map((name) => join(root, group, name, 'README.md'))
    .filter((p) => existsSync(p)),
);
const examples = readmes.flatMap(extractExamples);
log(`${examples.length} marked examples in ${readmes.length} READMEs`);

// 4. Type-check and compile every TypeScript example in one strict tsc run.
const typeErrors = new Map();
const tsExamples = examples.filter((e) => e.lang === 'ts');
if (tsExamples.length > 0) {
  writeFileSync(
    join(consumer, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        noEmitOnError: false,
        // tfjs's own .d.ts files do not pass a strict check (as in any project that uses tfjs)
        skipLibCheck: true,
        outDir: 'out',
        rootDir: 'examples',
        types: ['node'],
        typeRoots: [join(root, 'node_modules', '@types')],
      },
      include: tsExamples.map((e) => relative(consumer, e.file)),
    }),
  );
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', consumer], { cwd: consumer, encoding: 'utf8' });
  for (const line of tsc.stdout.split('\n')) {
    const m = /^(examples\/[^(]+)\((\d+),(\d+)\): (.*)$/.exec(line.trim());
    if (!m) continue;
    const file = join(consumer, m[1]);
    typeErrors.set(file, [...(typeErrors.get(file) ?? []), `line ${m[2]}: ${m[4]}`]);
  }
  if (tsc.status !== 0 && typeErrors.size === 0) {
    console.error(tsc.stdout + tsc.stderr);
    writeResults([{ name: 'tsc of the examples', status: 'failed', message: tsc.stdout.slice(0, 2000) }]);
    process.exit(1);
  }
}

// 5. Run each example in its own folder.
const results = [];
for (const e of examples) {
  const t = Date.now();
  let failure = null;
  if (typeErrors.has(e.file)) failure = `tsc --strict:\n  ${typeErrors.get(e.file).join('\n  ')}`;
  else {
    const run =
      e.lang === 'bash'
        ? spawnSync('bash', ['-e', '-o', 'pipefail', e.file], { cwd: e.cwd, encoding: 'utf8', timeout: EXAMPLE_TIMEOUT_MS, env: { ...process.env, PATH: `${join(consumer, 'node_modules', '.bin')}:${process.env.PATH}` } })
        : spawnSync(process.execPath, [e.lang === 'ts' ? join(consumer, 'out', relative(join(consumer, 'examples'), e.file)).replace(/\.ts$/, '.js') : e.file], { cwd: e.cwd, encoding: 'utf8', timeout: EXAMPLE_TIMEOUT_MS });
    if (run.status !== 0) failure = `exit ${run.status ?? run.signal}${run.error ? ` (${run.error.message})` : ''}:\n${(run.stderr || run.stdout).split('\n').slice(-15).join('\n')}`;
    e.output = run.stdout;
  }
  const seconds = ((Date.now() - t) / 1000).toFixed(1);
  log(`${failure ? 'FAIL' : 'ok  '} ${e.title} (${seconds} s)${failure ? `\n${failure.replace(/^/gm, '     ')}` : ''}`);
  results.push({ name: e.title, status: failure ? 'failed' : 'passed', message: failure ?? '' });
}
const failed = results.filter((r) => r.status === 'failed').length;
writeResults(results);
log(`doc-test: ${results.length - failed} passed, ${failed} failed (project ${keep ? consumer : 'removed'})`);
if (!keep) rmSync(work, { recursive: true, force: true });
process.exit(failed > 0 ? 1 : 0);

function extractExamples(readme) {
  const lines = readFileSync(readme, 'utf8').split('\n');
  const name = relative(root, dirname(readme));
  const out = [];
  for (let i = 0; i < lines.length; i++) {
    if (!MARKER.test(lines[i].trim())) continue;
    let j = i + 1;
    while (j < lines.length && lines[j].trim() === '') j++;
    const fence = /^```(\w+)\s*$/.exec(lines[j] ?? '');
    if (!fence) throw new Error(`${readme}:${i + 1}: <!-- doc-test --> must be followed by a fenced code block`);
    const lang = { ts: 'ts', typescript: 'ts', js: 'js', javascript: 'js', mjs: 'js', bash: 'bash', sh: 'bash', shell: 'bash' }[fence[1]];
    if (!lang) throw new Error(`${readme}:${j + 1}: doc-test runs ts, js and bash blocks, not ${fence[1]}`);
    const end = lines.findIndex((l, k) => k > j && /^```\s*$/.test(l));
    if (end < 0) throw new Error(`${readme}:${j + 1}: unterminated code block`);
    const index = out.length + 1;
    const cwd = join(consumer, 'examples', `${name.replace('/', '-')}-${index}`);
    mkdirSync(cwd, { recursive: true });
    const file = join(cwd, lang === 'ts' ? 'main.ts' : lang === 'js' ? 'main.mjs' : 'main.sh');
    writeFileSync(file, `${lines.slice(j + 1, end).join('\n')}\n`);
    out.push({ lang, file, cwd, title: `${name}/README.md:${j + 1} (${fence[1]})` });
    i = end;
  }
  return out;
}

function writeResults(testResults) {
  const failedCount = testResults.filter((r) => r.status === 'failed').length;
  const report = {
    numPassedTests: testResults.length - failedCount,
    numFailedTests: failedCount,
    numPendingTests: 0,
    numTodoTests: 0,
    success: failedCount === 0,
    testResults: [{ name: 'tools/doc-test.mjs', status: failedCount ? 'failed' : 'passed', message: '', assertionResults: testResults.map((r) => ({ title: r.name, status: r.status, failureMessages: r.message ? [r.message] : [] })) }],
  };
  writeFileSync(join(root, 'doc-test-results.json'), `${JSON.stringify(report, null, 2)}\n`);
}

/** Bytes under a folder, not following links and not entering nested node_modules. */
function folderBytes(dir) {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules') continue;
    const p = join(dir, entry.name);
    if (entry.isDirectory()) total += folderBytes(p);
    else if (entry.isFile()) total += lstatSync(p).size;
  }
  return total;
}

/** Where `dep` resolves from a package folder: its own node_modules, then each parent's. */
function locate(fromDir, dep) {
  for (let d = fromDir; d.startsWith(consumer); d = dirname(d)) {
    const candidate = join(d, 'node_modules', dep);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (d === consumer) break;
  }
  return null;
}

/** Each package's install footprint: itself plus every dependency it pulls in (optional peers not installed). */
function printFootprints() {
  const sizes = new Map();
  const sizeOf = (dir) => {
    if (!sizes.has(dir)) sizes.set(dir, folderBytes(dir));
    return sizes.get(dir);
  };
  const mb = (b) => `${(b / 1e6).toFixed(1)} MB`;
  const rows = [];
  for (const p of packages) {
    const start = join(consumer, 'node_modules', p.pkg.name);
    const seen = new Set();
    const queue = [start];
    while (queue.length) {
      const dir = queue.pop();
      if (seen.has(dir)) continue;
      seen.add(dir);
      const pkg = readJson(join(dir, 'package.json'));
      for (const dep of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })) {
        const at = locate(dir, dep);
        if (at) queue.push(at);
      }
    }
    const own = sizeOf(start);
    const total = [...seen].reduce((n, d) => n + sizeOf(d), 0);
    rows.push(`  ${p.pkg.name.padEnd(18)} package ${mb(own).padStart(9)}, with its dependencies ${mb(total).padStart(9)} (${seen.size} packages)`);
  }
  const du = spawnSync('du', ['-sb', join(consumer, 'node_modules')], { encoding: 'utf8' });
  log(`install footprint (apparent sizes):\n${rows.join('\n')}\n  all together: ${du.stdout.split('\t')[0] ? mb(Number(du.stdout.split('\t')[0])) : '?'} of node_modules`);
}
