/**
 * A small benchmark harness for `bench/*.bench.ts` scripts: warm-up runs, timed repeats, the
 * median as the value, and the two output lines the performance suite collects:
 *   human:  `<name>: <value> <unit> (median of <n>; min .. max)`
 *   JSON :  `{"benchmark":"<name>","value":..,"unit":"..","higherIsBetter":..,"samples":[..],"params":{..}}`
 */
export interface BenchmarkOptions {
  /** untimed runs first (default 1) */
  warmup?: number;
  /** timed runs (default 5) */
  repeats?: number;
  /**
   * Items processed by one run. When given, each sample is a throughput (items per second, unit
   * `items/s`, higher is better); otherwise each sample is the run time in milliseconds.
   */
  itemsPerRun?: number;
  /** overrides the unit name */
  unit?: string;
  higherIsBetter?: boolean;
  /** what was measured (sizes, settings), copied into the JSON line */
  params?: Record<string, unknown>;
  /** where the lines go (default console.log); pass `null` to print nothing */
  log?: ((line: string) => void) | null;
}

export interface BenchmarkResult {
  benchmark: string;
  value: number;
  unit: string;
  higherIsBetter: boolean;
  samples: number[];
  params: Record<string, unknown>;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median: no values');
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export async function runBenchmark(name: string, fn: () => unknown, options: BenchmarkOptions = {}): Promise<BenchmarkResult> {
  const warmup = options.warmup ?? 1;
  const repeats = options.repeats ?? 5;
  if (!Number.isInteger(repeats) || repeats < 1) throw new Error(`runBenchmark ${name}: repeats must be a positive integer, got ${repeats}`);
  if (!Number.isInteger(warmup) || warmup < 0) throw new Error(`runBenchmark ${name}: warmup must be a non-negative integer, got ${warmup}`);
  const items = options.itemsPerRun;
  if (items !== undefined && !(items > 0)) throw new Error(`runBenchmark ${name}: itemsPerRun must be positive, got ${items}`);
  for (let i = 0; i < warmup; i++) await fn();
  const samples: number[] = [];
  const cpuMs: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const cpuStart = process.cpuUsage();
    const start = process.hrtime.bigint();
    await fn();
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    const cpu = process.cpuUsage(cpuStart);
    cpuMs.push((cpu.user + cpu.system) / 1000);
    samples.push(items !== undefined ? items / (ms / 1000) : ms);
  }
  const result: BenchmarkResult = {
    benchmark: name,
    value: median(samples),
    unit: options.unit ?? (items !== undefined ? 'items/s' : 'ms'),
    higherIsBetter: options.higherIsBetter ?? items !== undefined,
    samples,
    // process CPU time per run (all threads of this process) helps read wall times on a busy machine
    params: { ...(options.params ?? {}), warmup, repeats, ...(items !== undefined ? { itemsPerRun: items } : {}), cpuMsMedian: Number(median(cpuMs).toFixed(3)) },
  };
  const log = options.log === undefined ? (line: string) => console.log(line) : options.log;
  if (log) {
    log(formatHumanLine(result));
    log(JSON.stringify(result));
  }
  return result;
}

function fmt(x: number): string {
  return Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 1 ? x.toFixed(2) : x.toPrecision(3);
}

export function formatHumanLine(r: BenchmarkResult): string {
  const lo = Math.min(...r.samples);
  const hi = Math.max(...r.samples);
  return `${r.benchmark}: ${fmt(r.value)} ${r.unit} (median of ${r.samples.length}; ${fmt(lo)} .. ${fmt(hi)}; ${r.higherIsBetter ? 'higher' : 'lower'} is better)`;
}

/** Collects the benchmark JSON lines from a script's stdout (other lines are ignored). */
export function parseBenchmarkLines(stdout: string): BenchmarkResult[] {
  const out: BenchmarkResult[] = [];
  for (const line of stdout.split('\n')) {
    const t = line.trim();
    if (!t.startsWith('{"benchmark"')) continue;
    const r = JSON.parse(t) as BenchmarkResult;
    if (typeof r.value !== 'number' || typeof r.unit !== 'string') throw new Error(`benchmark line without value/unit: ${t.slice(0, 200)}`);
    out.push(r);
  }
  return out;
}

/** A Markdown table of results (one row per benchmark). */
export function reportsToMarkdown(results: readonly BenchmarkResult[]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const rows = results.map((r) => {
    const params = Object.entries(r.params)
      .filter(([k]) => k !== 'warmup' && k !== 'repeats' && k !== 'cpuMsMedian')
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(', ');
    return `| ${esc(r.benchmark)} | ${fmt(r.value)} | ${esc(r.unit)} | ${r.higherIsBetter ? 'higher' : 'lower'} | ${r.samples.length} | ${esc(params)} |`;
  });
  return ['| benchmark | value (median) | unit | better | samples | params |', '| --- | ---: | --- | --- | ---: | --- |', ...rows].join('\n') + '\n';
}
