import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseArgs, parseShard } from './args.js';
import { ConfigError, resolveConfig } from './config.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'mats-config-'));
const spec = { booleans: ['resume'], values: ['shard'], shortcuts: { steps: 'train.steps', name: 'name' } };

describe('config', () => {
  it('defaults to the world preset', () => {
    const c = resolveConfig();
    expect(c.preset).toBe('world');
    expect(c.name).toBe('world');
    expect(c.clap.kind).toBe('tiny');
    expect(c.world?.dir).toBe('world');
  });

  it('mats-gpt2 carries the paper section 4.1 settings', () => {
    const c = resolveConfig({ preset: 'mats-gpt2' });
    expect(c.clap.kind).toBe('onnx');
    expect(c.world).toBeNull();
    expect(c.train).toMatchObject({ lr: 5e-5, warmupSteps: 2000, schedule: 'linear', batchSize: 128, noiseVariance: 0.015, steps: 90000 });
    expect(c.lora).toEqual({ rank: 8, alpha: 32, dropout: 0.1, targets: ['c_attn'] });
    expect(c.mapper).toMatchObject({ layers: 8, prefixLength: 40, clipLength: 40 });
    expect(c.santa).toMatchObject({ k: 100, topL: 32, tau: 0.1, lambda: 0.3, memorySize: 5172 });
    expect(c.data.train.length).toBeGreaterThan(1);
    expect(c.eval.generation).toEqual({ strategy: 'beam', beams: 4, maxNewTokens: 200, noRepeatNgram: 2, repetitionPenalty: 2 });
  });

  it('applies command-line overrides by field path', () => {
    const args = parseArgs(['train', '--steps', '100', '--mapper.layers=3', '--santa.lambda', '0.5', '--resume', '--shard', '1/4'], spec);
    expect(args.command).toBe('train');
    expect(args.flags.has('resume')).toBe(true);
    expect(parseShard(args.values.get('shard')!)).toEqual({ index: 1, count: 4 });
    const c = resolveConfig({ overrides: args.overrides });
    expect(c.train.steps).toBe(100);
    expect(c.mapper.layers).toBe(3);
    expect(c.santa.lambda).toBe(0.5);
  });

  it('names the field path of a bad value', () => {
    expect(() => resolveConfig({ overrides: [{ path: 'train.steps', raw: 'many' }] })).toThrow(/train\.steps: expected number, got string "many" \(from --train\.steps\)/);
    expect(() => resolveConfig({ overrides: [{ path: 'santa.lambda', raw: '1.5' }] })).toThrow(/santa\.lambda: .*1/);
    expect(() => resolveConfig({ overrides: [{ path: 'train.variant', raw: 'video' }] })).toThrow(/train\.variant: /);
    expect(() => resolveConfig({ overrides: [{ path: 'mapper.layers', raw: '2.5' }] })).toThrow(/mapper\.layers: /);
  });

  it('rejects unknown fields, naming them', () => {
    expect(() => resolveConfig({ overrides: [{ path: 'train.step', raw: '5' }] })).toThrow(/train\.step: unknown field/);
    expect(() => resolveConfig({ overrides: [{ path: 'trian.steps', raw: '5' }] })).toThrow(/trian: unknown field/);
  });

  it('reads YAML and JSON files, naming the field path and the file', () => {
    const dir = tmp();
    const yaml = join(dir, 'run.yaml');
    writeFileSync(yaml, 'name: small\ntrain:\n  steps: 20\n  batchSize: 4\nmapper:\n  layers: 1\n');
    const c = resolveConfig({ configFile: yaml });
    expect(c).toMatchObject({ name: 'small', train: { steps: 20, batchSize: 4 }, mapper: { layers: 1, prefixLength: 8 } });
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'data:\n  train:\n    - path: x.jsonl\n      weight: -1\n      audioDir: null\n');
    expect(() => resolveConfig({ configFile: bad })).toThrow(/data\.train\.0\.weight: .*config file .*bad\.yaml/);
    const json = join(dir, 'bad.json');
    writeFileSync(json, '{ "train": { "steps": 10, }');
    expect(() => resolveConfig({ configFile: json })).toThrow(/bad\.json: cannot parse/);
    expect(() => resolveConfig({ configFile: join(dir, 'missing.yaml') })).toThrow(/missing\.yaml: not found/);
  });

  it('takes a preset named in the file, and a string field given as digits', () => {
    const dir = tmp();
    const yaml = join(dir, 'gpt2.yml');
    writeFileSync(yaml, 'preset: mats-gpt2\nllm:\n  dir: /models/gpt2\n');
    const c = resolveConfig({ configFile: yaml, overrides: [{ path: 'name', raw: '2024' }] });
    expect(c.preset).toBe('mats-gpt2');
    expect(c.llm.dir).toBe('/models/gpt2');
    expect(c.name).toBe('2024');
    expect(() => resolveConfig({ preset: 'nope' })).toThrow(/preset: unknown preset "nope"/);
  });

  it('rejects unknown options and malformed shards', () => {
    expect(() => parseArgs(['--stpes', '5'], spec)).toThrow(ConfigError);
    expect(() => parseArgs(['--stpes', '5'], spec)).toThrow(/unknown option --stpes/);
    expect(() => parseArgs(['--steps'], spec)).toThrow(/--steps needs a value/);
    expect(() => parseShard('4/4')).toThrow(/0 <= i < n/);
    expect(() => parseShard('a/b')).toThrow(/expected i\/n/);
  });
});

describe('command-line values users get wrong', () => {
  const spec = { booleans: [], values: [], shortcuts: { lr: 'train.lr' } };
  it('--lr .nan / .inf say the number is not finite (not "got number null")', () => {
    for (const [raw, shown] of [['.nan', 'NaN'], ['.inf', 'Infinity'], ['-.inf', '-Infinity']]) {
      const args = parseArgs(['train', '--lr', raw], spec);
      expect(() => resolveConfig({ overrides: args.overrides })).toThrow(`train.lr: expected number, got ${shown} (YAML reads .nan / .inf as a number that is not finite) (from --train.lr)`);
    }
  });

  it('top-level fields such as --runsDir and --seed are accepted like dotted fields', () => {
    const args = parseArgs(['train', '--runsDir', '/tmp/other-runs', '--seed', '7'], spec);
    const c = resolveConfig({ overrides: args.overrides });
    expect(c.runsDir).toBe('/tmp/other-runs');
    expect(c.seed).toBe(7);
    expect(() => parseArgs(['train', '--runsdir', 'x'], spec)).toThrow('unknown option --runsdir');
    expect(resolveConfig().wasmThreads).toBe(1);
    expect(resolveConfig({ overrides: parseArgs(['train', '--wasmThreads', '2'], spec).overrides }).wasmThreads).toBe(2);
    expect(() => resolveConfig({ overrides: [{ path: 'wasmThreads', raw: '9' }] })).toThrow(/wasmThreads: .*8/);
  });

  it('a JSON config file may start with a UTF-8 byte-order mark', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mats-config-'));
    writeFileSync(join(dir, 'c.json'), '\ufeff{"train": {"steps": 12}}');
    expect(resolveConfig({ configFile: join(dir, 'c.json') }).train.steps).toBe(12);
  });
});
