import { describe, expect, it } from 'vitest';
import { median, parseBenchmarkLines, reportsToMarkdown, runBenchmark } from './harness.js';

describe('benchmark harness', () => {
  it('median of odd and even counts', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(() => median([])).toThrow(/no values/);
  });

  it('runs warm-up then repeats, prints a human line and a JSON line', async () => {
    let calls = 0;
    const lines: string[] = [];
    const r = await runBenchmark('bench/test', () => void calls++, { warmup: 2, repeats: 3, itemsPerRun: 10, params: { size: 10 }, log: (l) => lines.push(l) });
    expect(calls).toBe(5);
    expect(r.samples).toHaveLength(3);
    expect(r.unit).toBe('items/s');
    expect(r.higherIsBetter).toBe(true);
    expect(r.value).toBe(median(r.samples));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^bench\/test: \S+ items\/s \(median of 3; /);
    const parsed = parseBenchmarkLines(lines.join('\n'));
    expect(parsed).toEqual([r]);
    expect(Object.keys(JSON.parse(lines[1]))).toEqual(['benchmark', 'value', 'unit', 'higherIsBetter', 'samples', 'params']);
    expect(r.params).toMatchObject({ size: 10, warmup: 2, repeats: 3, itemsPerRun: 10 });
    expect(r.params.cpuMsMedian).toBeGreaterThanOrEqual(0);
  });

  it('times in ms (lower is better) without itemsPerRun, and awaits async functions', async () => {
    const r = await runBenchmark('bench/sleep', () => new Promise((res) => setTimeout(res, 5)), { warmup: 0, repeats: 2, log: null });
    expect(r.unit).toBe('ms');
    expect(r.higherIsBetter).toBe(false);
    for (const s of r.samples) expect(s).toBeGreaterThanOrEqual(4);
    await expect(runBenchmark('x', () => 0, { repeats: 0, log: null })).rejects.toThrow(/repeats must be a positive integer/);
  });

  it('formats a Markdown table', () => {
    const md = reportsToMarkdown([
      { benchmark: 'bench/a', value: 1234.5, unit: 'items/s', higherIsBetter: true, samples: [1, 2], params: { items: 5000, warmup: 1, repeats: 2 } },
    ]);
    expect(md).toBe(
      '| benchmark | value (median) | unit | better | samples | params |\n| --- | ---: | --- | --- | ---: | --- |\n| bench/a | 1235 | items/s | higher | 2 | items=5000 |\n',
    );
  });
});
