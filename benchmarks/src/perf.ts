/**
 * `nx run bench:perf`: runs every package benchmark (`packages/*\/bench/*.bench.ts`, with tsx) and,
 * when Python with PyTorch is present, every reference benchmark (`tools/bench_*reference*.py`),
 * one script at a time, collects their JSON lines, pairs each of our measurements with its
 * reference, and writes `bench-results/perf.json` and `bench-results/perf.md`.
 *
 * Options: --only <text>[,<text>...] (scripts whose path contains one of them), --no-reference, --out <dir>.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_TIMEOUT_S, PYTHON, REFERENCE_ALIASES, SCRIPT_SETTINGS } from './config.js';
import { type SourcedMeasurement, pairResults, parseMeasurements, toMarkdown } from './report.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

interface RunRecord {
  script: string;
  command: string[];
  seconds: number;
  exitCode: number | null;
  timedOut: boolean;
  measurements: number;
  stderrTail?: string;
}

function findScripts(): { bench: string[]; reference: string[] } {
  const bench: string[] = [];
  const packagesDir = join(ROOT, 'packages');
  for (const pkg of readdirSync(packagesDir).sort()) {
    const dir = join(packagesDir, pkg, 'bench');
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir).sort()) if (f.endsWith('.bench.ts')) bench.push(`packages/${pkg}/bench/${f}`);
  }
  const reference = readdirSync(join(ROOT, 'tools'))
    .filter((f) => /^bench_.*reference.*\.py$/.test(f))
    .sort()
    .map((f) => `tools/${f}`);
  return { bench, reference };
}

/** Why the references cannot run, or null when Python with torch, numpy and scikit-learn is there. */
function pythonProblem(): string | null {
  const probe = spawnSync(PYTHON, ['-c', 'import torch, numpy, sklearn; print(torch.__version__)'], { encoding: 'utf8' });
  if (probe.error) return `${PYTHON} not found (${probe.error.message})`;
  if (probe.status !== 0) return `${PYTHON} lacks torch/numpy/scikit-learn: ${probe.stderr.trim().split('\n').pop()}`;
  return null;
}

/** Runs one script, passing its human-readable output through and returning stdout. */
function runScript(script: string, command: string[]): Promise<{ stdout: string; record: RunRecord }> {
  const settings = SCRIPT_SETTINGS[script] ?? {};
  const timeoutS = settings.timeoutS ?? DEFAULT_TIMEOUT_S;
  const full = [...command, ...(settings.args ?? [])];
  return new Promise((resolvePromise) => {
    const started = performance.now();
    const child = spawn(full[0], full.slice(1), { cwd: ROOT, env: { ...process.env, ...settings.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      stdout += text;
      for (const line of text.split('\n')) if (line.trim() && !line.trim().startsWith('{"benchmark"')) process.stdout.write(`    ${line}\n`);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutS * 1000);
    child.on('close', (code) => {
      clearTimeout(timer);
      const record: RunRecord = { script, command: full, seconds: (performance.now() - started) / 1000, exitCode: code, timedOut, measurements: 0 };
      if (code !== 0 || timedOut) record.stderrTail = stderr.split('\n').filter((l) => !l.startsWith('var Module')).slice(-15).join('\n');
      resolvePromise({ stdout, record });
    });
  });
}

function gitCommit(): string | null {
  const r = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : undefined;
  const outDir = resolve(ROOT, argv.includes('--out') ? argv[argv.indexOf('--out') + 1] : 'bench-results');
  const { bench, reference } = findScripts();
  const patterns = only?.split(',').filter(Boolean);
  const selected = (list: string[]) => (patterns ? list.filter((s) => patterns.some((p) => s.includes(p))) : list);
  const problem = argv.includes('--no-reference') ? 'skipped (--no-reference)' : pythonProblem();

  const started = new Date();
  const loadBefore = loadavg();
  const measurements: SourcedMeasurement[] = [];
  const runs: RunRecord[] = [];
  const jobs: { script: string; command: string[] }[] = [
    ...selected(bench).map((script) => ({ script, command: ['npx', 'tsx', script] })),
    ...(problem ? [] : selected(reference).map((script) => ({ script, command: [PYTHON, script] }))),
  ];
  if (problem) console.log(`reference benchmarks not run: ${problem}`);
  for (const [i, job] of jobs.entries()) {
    console.log(`[${i + 1}/${jobs.length}] ${job.script}`);
    const { stdout, record } = await runScript(job.script, job.command);
    try {
      const found = parseMeasurements(stdout, job.script);
      record.measurements = found.length;
      measurements.push(...found);
    } catch (err) {
      record.stderrTail = `${record.stderrTail ?? ''}\n${(err as Error).message}`.trim();
      if (record.exitCode === 0) record.exitCode = -1;
    }
    runs.push(record);
    const status = record.timedOut ? `TIMED OUT after ${record.seconds.toFixed(0)} s` : record.exitCode === 0 ? 'ok' : `FAILED (exit ${record.exitCode})`;
    console.log(`    -> ${status}, ${record.seconds.toFixed(1)} s, ${record.measurements} measurements`);
    if (record.stderrTail && record.exitCode !== 0) console.log(record.stderrTail.replace(/^/gm, '    ! '));
  }

  const results = pairResults(measurements, REFERENCE_ALIASES);
  const failed = runs.filter((r) => r.exitCode !== 0 || r.timedOut);
  const meta = {
    started: started.toISOString(),
    seconds: (Date.now() - started.getTime()) / 1000,
    commit: gitCommit(),
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    // Other work on the machine inflates wall-clock times; the load averages say how much there was.
    loadAverageBefore: loadBefore,
    loadAverageAfter: loadavg(),
    references: problem ? { ran: false, reason: problem } : { ran: true, python: PYTHON },
  };
  mkdirSync(outDir, { recursive: true });
  const references = measurements.filter((m) => m.benchmark.startsWith('reference/'));
  writeFileSync(join(outDir, 'perf.json'), JSON.stringify({ meta, results, references, runs }, null, 1) + '\n');
  const md = [
    '# Performance suite',
    '',
    `${meta.started}, commit ${meta.commit ?? '?'}, ${meta.cpu} x ${meta.cores}, Node ${meta.node}; ` +
      `load average ${loadBefore.map((x) => x.toFixed(1)).join('/')} before, ${meta.loadAverageAfter.map((x) => x.toFixed(1)).join('/')} after; ` +
      `${meta.seconds.toFixed(0)} s in all.`,
    '',
    'ratio = ours / reference, oriented so that > 1 means we are slower. The single-thread reference is the like-for-like',
    'comparison (the tfjs wasm backend runs on one thread here).',
    problem ? `\nReference benchmarks did not run: ${problem}.\n` : '',
    toMarkdown(results),
    failed.length ? `\nFailed scripts:\n\n${failed.map((r) => `- ${r.script}: ${r.timedOut ? 'timed out' : `exit ${r.exitCode}`}`).join('\n')}\n` : '',
  ].join('\n');
  writeFileSync(join(outDir, 'perf.md'), md);
  console.log(`\n${toMarkdown(results)}\nwrote ${relative(ROOT, join(outDir, 'perf.json'))} and perf.md in ${meta.seconds.toFixed(0)} s`);
  if (failed.length) {
    console.error(`${failed.length} script(s) failed: ${failed.map((r) => r.script).join(', ')}`);
    process.exitCode = 1;
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
