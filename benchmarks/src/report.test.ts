import { describe, expect, it } from 'vitest';
import { formatNumber, pairResults, parseMeasurements, slowdown, toMarkdown } from './report.js';

const line = (benchmark: string, value: number, unit: string, higherIsBetter: boolean, params: Record<string, unknown> = {}) =>
  JSON.stringify({ benchmark, value, unit, higherIsBetter, samples: [value], params });

describe('parseMeasurements', () => {
  it('keeps benchmark lines (TS or Python spacing) and ignores the rest', () => {
    const stdout = ['mapper/forward: 1.2 rows/s', line('mapper/forward', 1.2, 'rows/s', true), '{"benchmark": "reference/x", "value": 2, "unit": "ms", "higherIsBetter": false}', ''].join('\n');
    const found = parseMeasurements(stdout, 'a.ts');
    expect(found.map((m) => [m.benchmark, m.value, m.source])).toEqual([
      ['mapper/forward', 1.2, 'a.ts'],
      ['reference/x', 2, 'a.ts'],
    ]);
    expect(found[1].samples).toEqual([]);
    expect(found[1].params).toEqual({});
  });

  it('a malformed benchmark line is an error naming the script and line', () => {
    expect(() => parseMeasurements('ok\n{"benchmark": broken', 'tools/x.py')).toThrow(/tools\/x\.py: line 2 .* not JSON/);
    expect(() => parseMeasurements('{"benchmark":"a","value":"1","unit":"ms","higherIsBetter":false}', 's')).toThrow(/line 1 lacks/);
  });
});

describe('ratios', () => {
  it('> 1 means we are slower, whichever direction is better', () => {
    // Times (lower is better): 300 ms against 100 ms is 3x slower.
    expect(slowdown(300, 100, false)).toBe(3);
    // Throughputs (higher is better): 50 items/s against 200 items/s is 4x slower.
    expect(slowdown(50, 200, true)).toBe(4);
    expect(slowdown(200, 50, true)).toBe(0.25);
    expect(slowdown(0, 50, true)).toBeNull();
    expect(slowdown(1, NaN, true)).toBeNull();
  });

  it('pairs by name, batch and unit; threads 1 is the reference, more threads reported beside it', () => {
    const m = [
      ...parseMeasurements(
        [
          line('mapper/forward', 2, 'rows/s', true, { batch: 1, backend: 'wasm' }),
          line('mapper/forward', 4, 'rows/s', true, { batch: 8, backend: 'wasm' }),
          line('mapper/train-step', 600, 'ms', false, { batch: 8 }),
          line('santa/memory-build-fast', 3, 's', false),
          line('clap/log-mel', 50, 'x realtime', true),
        ].join('\n'),
        'ours',
      ),
      ...parseMeasurements(
        [
          line('reference/mapper/forward', 8, 'rows/s', true, { batch: 1, threads: 1 }),
          line('reference/mapper/forward', 16, 'rows/s', true, { batch: 8, threads: 1 }),
          line('reference/mapper/forward', 24, 'rows/s', true, { batch: 8, threads: 2 }),
          line('reference/mapper/train-step', 200, 'ms', false, { batch: 8, threads: 1 }),
          line('reference/mapper/train-step', 150, 'ms', false, { batch: 8, threads: 2 }),
          line('reference/santa/memory-build-sklearn', 1.5, 's', false),
        ].join('\n'),
        'ref',
      ),
    ];
    const results = pairResults(m, { 'santa/memory-build-fast': 'reference/santa/memory-build-sklearn' });
    const byKey = (name: string, batch?: number) => results.find((r) => r.benchmark === name && r.params.batch === batch)!;
    expect(results).toHaveLength(5);
    expect(byKey('mapper/forward', 1).ratio).toBe(4);
    expect(byKey('mapper/forward', 1).ratioAllCores).toBeNull();
    expect(byKey('mapper/forward', 8).ratio).toBe(4);
    expect(byKey('mapper/forward', 8).ratioAllCores).toBe(6);
    expect(byKey('mapper/train-step', 8).ratio).toBe(3);
    expect(byKey('mapper/train-step', 8).ratioAllCores).toBe(4);
    expect(byKey('santa/memory-build-fast').ratio).toBe(2);
    expect(byKey('clap/log-mel').reference).toBeNull();
    expect(byKey('clap/log-mel').ratio).toBeNull();

    const md = toMarkdown(results);
    expect(md.split('\n')[0]).toMatch(/^\| benchmark \| variant \| ours/);
    expect(md).toContain('| mapper/forward | batch=8 | 4.00 | 16.00 | 4.00 | 24.00 | 6.00 | rows/s | higher | 1 |');
    expect(md).toContain('| clap/log-mel |  | 50.00 | - | - | - | - | x realtime | higher | 1 |');
  });

  it('a training step with a stand-in prefix pairs only with the stand-in reference', () => {
    const m = parseMeasurements(
      [
        line('llm-lora/train-step-gpt2-small', 30000, 'ms', false, { batch: 8, prefixSource: 'stand-in trainable prefix (mapper + GPT-2 small exceed the 4 GB wasm heap)' }),
        line('llm-lora/train-step-world', 1600, 'ms', false, { batch: 8, prefixSource: '@mats/mapper' }),
        line('reference/llm-lora/train-step-gpt2-small', 25000, 'ms', false, { batch: 8, threads: 1, prefixSource: 'mapper' }),
        line('reference/llm-lora/train-step-gpt2-small', 10000, 'ms', false, { batch: 8, threads: 1, prefixSource: 'stand-in' }),
        line('reference/llm-lora/train-step-world', 400, 'ms', false, { batch: 8, threads: 1, prefixSource: 'mapper' }),
      ].join('\n'),
      'x',
    );
    const results = pairResults(m);
    expect(results.map((r) => [r.benchmark, r.value, r.reference?.value, r.ratio])).toEqual([
      ['llm-lora/train-step-gpt2-small', 30000, 10000, 3],
      ['llm-lora/train-step-world', 1600, 400, 4],
      ['llm-lora/train-step-gpt2-small', null, 25000, null],
    ]);
    expect(toMarkdown(results)).toContain('| llm-lora/train-step-gpt2-small | batch=8, prefixSource=stand-in | 30000 | 10000 | 3.00 |');
  });

  it('a reference in another unit is not paired; a reference without a counterpart keeps its own row', () => {
    const m = parseMeasurements([line('a/b', 2, 'ms', false), line('reference/a/b', 1, 's', false), line('reference/c/d', 5, 'ms', false, { threads: 1 })].join('\n'), 'x');
    const results = pairResults(m);
    expect(results[0].reference).toBeNull();
    expect(results.map((r) => [r.benchmark, r.value, r.reference?.value, r.ratio])).toEqual([
      ['a/b', 2, undefined, null],
      ['a/b', null, 1, null],
      ['c/d', null, 5, null],
    ]);
    expect(toMarkdown(results)).toContain('| c/d |  | - | 5.00 | - | - | - | ms | lower | 0 |');
  });

  it('formats numbers with a few significant digits', () => {
    expect(formatNumber(12345.6)).toBe('12346');
    expect(formatNumber(123.456)).toBe('123.5');
    expect(formatNumber(1.23456)).toBe('1.23');
    expect(formatNumber(0.0123456)).toBe('0.0123');
    expect(formatNumber(null)).toBe('-');
  });
});
