/**
 * Pure parts of the performance suite: reading benchmark JSON lines, pairing each of our
 * measurements with its PyTorch / numpy / scikit-learn reference, ratios, and the Markdown table.
 */

/** One JSON line as every benchmark prints it (see the repository's common benchmark format). */
export interface Measurement {
  benchmark: string;
  value: number;
  unit: string;
  higherIsBetter: boolean;
  samples: number[];
  params: Record<string, unknown>;
}

/** A measurement with the script that produced it. */
export interface SourcedMeasurement extends Measurement {
  source: string;
}

export interface PairedResult {
  benchmark: string;
  unit: string;
  higherIsBetter: boolean;
  /** Our median; null for a reference whose counterpart did not run (failed or absent). */
  value: number | null;
  samples: number[];
  params: Record<string, unknown>;
  /** Our script, or the reference's when ours did not run. */
  source: string;
  /** The reference run single-threaded (threads = 1, or no thread count given), when one ran. */
  reference: { benchmark: string; value: number; samples: number[]; params: Record<string, unknown>; source: string } | null;
  /** ours / reference, oriented so that > 1 means we are slower. Null without a reference. */
  ratio: number | null;
  /** The same reference with one thread per core, when it ran. */
  referenceAllCores: { value: number; threads: unknown } | null;
  ratioAllCores: number | null;
}

/** Collects benchmark lines from a script's stdout; other lines are ignored, a malformed one is an error. */
export function parseMeasurements(stdout: string, source: string): SourcedMeasurement[] {
  const out: SourcedMeasurement[] = [];
  stdout.split('\n').forEach((line, i) => {
    const t = line.trim();
    if (!t.startsWith('{"benchmark"')) return;
    let m: Measurement;
    try {
      m = JSON.parse(t);
    } catch (err) {
      throw new Error(`${source}: line ${i + 1} starts like a benchmark line but is not JSON: ${(err as Error).message}`);
    }
    if (typeof m.benchmark !== 'string' || typeof m.value !== 'number' || typeof m.unit !== 'string' || typeof m.higherIsBetter !== 'boolean') {
      throw new Error(`${source}: line ${i + 1} lacks benchmark/value/unit/higherIsBetter: ${t.slice(0, 200)}`);
    }
    out.push({ ...m, samples: Array.isArray(m.samples) ? m.samples : [], params: m.params ?? {}, source });
  });
  return out;
}

export const REFERENCE_PREFIX = 'reference/';

/**
 * Keys that tell apart measurements of the same name (sizes, and what produces the LLM prefix in the
 * training step); other params describe the environment.
 */
export const DISCRIMINATING_KEYS = ['batch', 'queries', 'rows', 'items', 'size', 'seconds', 'prefixSource'] as const;

/** Compares a param across scripts: prefix sources are described in words ('stand-in trainable prefix (...)'). */
function paramKey(key: string, value: unknown): string {
  if (key === 'prefixSource' && typeof value === 'string') return /stand-in/i.test(value) ? 'stand-in' : 'mapper';
  return JSON.stringify(value);
}

const threadsOf = (m: Measurement): number => (typeof m.params.threads === 'number' ? m.params.threads : 1);

/** ours / reference with "> 1 means we are slower" for either direction of "better". */
export function slowdown(ours: number, reference: number, higherIsBetter: boolean): number | null {
  if (!(ours > 0) || !(reference > 0) || !Number.isFinite(ours) || !Number.isFinite(reference)) return null;
  return higherIsBetter ? reference / ours : ours / reference;
}

/**
 * Pairs our measurements with references. A reference pairs with ours when its name is
 * `reference/<our name>` (or the name `aliases` gives for ours), its unit and direction agree, and
 * every discriminating key present in both params has the same value. Among the matches the
 * single-threaded one is the reference; one with more threads is reported beside it.
 */
export function pairResults(measurements: readonly SourcedMeasurement[], aliases: Record<string, string> = {}): PairedResult[] {
  const ours = measurements.filter((m) => !m.benchmark.startsWith(REFERENCE_PREFIX));
  const refs = measurements.filter((m) => m.benchmark.startsWith(REFERENCE_PREFIX));
  const paired = new Set<SourcedMeasurement>();
  const results: PairedResult[] = ours.map((m) => {
    const refName = aliases[m.benchmark] ?? REFERENCE_PREFIX + m.benchmark;
    const candidates = refs.filter(
      (r) =>
        r.benchmark === refName &&
        r.unit === m.unit &&
        r.higherIsBetter === m.higherIsBetter &&
        DISCRIMINATING_KEYS.every((k) => !(k in r.params) || !(k in m.params) || paramKey(k, r.params[k]) === paramKey(k, m.params[k])),
    );
    const single = candidates.find((r) => threadsOf(r) === 1) ?? null;
    const multi = candidates.filter((r) => threadsOf(r) > 1).sort((a, b) => threadsOf(b) - threadsOf(a))[0] ?? null;
    candidates.forEach((r) => paired.add(r));
    return {
      benchmark: m.benchmark,
      unit: m.unit,
      higherIsBetter: m.higherIsBetter,
      value: m.value,
      samples: m.samples,
      params: m.params,
      source: m.source,
      reference: single && { benchmark: single.benchmark, value: single.value, samples: single.samples, params: single.params, source: single.source },
      ratio: single ? slowdown(m.value, single.value, m.higherIsBetter) : null,
      referenceAllCores: multi && { value: multi.value, threads: multi.params.threads },
      ratioAllCores: multi ? slowdown(m.value, multi.value, m.higherIsBetter) : null,
    };
  });
  // References whose counterpart is missing still get a row, so their timings are not lost.
  for (const r of refs) {
    if (paired.has(r)) continue;
    const name = r.benchmark.slice(REFERENCE_PREFIX.length);
    const same = refs.filter((o) => o.benchmark === r.benchmark && !paired.has(o) && DISCRIMINATING_KEYS.every((k) => paramKey(k, o.params[k]) === paramKey(k, r.params[k])));
    const single = same.find((o) => threadsOf(o) === 1) ?? null;
    const multi = same.filter((o) => threadsOf(o) > 1).sort((a, b) => threadsOf(b) - threadsOf(a))[0] ?? null;
    same.forEach((o) => paired.add(o));
    results.push({
      benchmark: name,
      unit: r.unit,
      higherIsBetter: r.higherIsBetter,
      value: null,
      samples: [],
      params: r.params,
      source: r.source,
      reference: single && { benchmark: single.benchmark, value: single.value, samples: single.samples, params: single.params, source: single.source },
      ratio: null,
      referenceAllCores: multi && { value: multi.value, threads: multi.params.threads },
      ratioAllCores: null,
    });
  }
  return results;
}

/** A short significant-digits rendering. */
export function formatNumber(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '-';
  const a = Math.abs(x);
  if (a === 0) return '0';
  if (a >= 1000) return x.toFixed(0);
  if (a >= 100) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  return x.toPrecision(3);
}

/** What distinguishes rows of the same benchmark in the table. */
function variant(params: Record<string, unknown>): string {
  return DISCRIMINATING_KEYS.filter((k) => k in params)
    .map((k) => `${k}=${k === 'prefixSource' ? paramKey(k, params[k]) : JSON.stringify(params[k])}`)
    .join(', ');
}

/** The Markdown table of perf.md. */
export function toMarkdown(results: readonly PairedResult[]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const lines = [
    '| benchmark | variant | ours (median) | reference, 1 thread | ratio | reference, all cores | ratio (all cores) | unit | better | samples |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: |',
  ];
  for (const r of results) {
    lines.push(
      `| ${esc(r.benchmark)} | ${esc(variant(r.params))} | ${formatNumber(r.value)} | ${formatNumber(r.reference?.value)} | ${formatNumber(r.ratio)} | ` +
        `${formatNumber(r.referenceAllCores?.value)} | ${formatNumber(r.ratioAllCores)} | ${esc(r.unit)} | ${r.higherIsBetter ? 'higher' : 'lower'} | ${r.samples.length} |`,
    );
  }
  return lines.join('\n') + '\n';
}
