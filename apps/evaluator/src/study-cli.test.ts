import { describe, expect, it } from 'vitest';
import { studyConfig } from './cli.js';
import { studyRunConfig, studySettings } from './study.js';

describe('evaluator study command line', () => {
  it('maps --seeds, --steps, --variances, --tasks and --name to the study group, over the world preset', () => {
    const parsed = studyConfig(['study', '--seeds', '0,1,2', '--steps', '4800', '--variances', '0,0.001,0.004,0.015', '--tasks', 'mmau,classify', '--name', 'big', '--eval.limit', '50'])!;
    expect(parsed.gapOnly).toBe(false);
    expect(parsed.config.preset).toBe('world');
    expect(parsed.config.eval.limit).toBe(50);
    expect(studySettings(parsed.config)).toEqual({ seeds: [0, 1, 2], steps: 4800, variances: [0, 0.001, 0.004, 0.015], tasks: ['mmau', 'classify'], name: 'big', gapPairs: 300 });
    // Each training of the study: its own folder, seed, steps and variance; the study group is not part of a run's config.
    const run = studyRunConfig(parsed.config, 'var-0.015', 2);
    expect(run).toMatchObject({ name: 'var-0.015-s2', runsDir: 'runs/big/runs', seed: 2, train: { steps: 4800, noiseVariance: 0.015, variant: 'text' } });
    expect(run.study).toBeUndefined();
    expect(studyRunConfig(parsed.config, 'audio', 0).train).toMatchObject({ variant: 'audio', noiseVariance: 0.002 });
    expect(studyRunConfig(parsed.config, 'no-noise', 0).train.noiseVariance).toBe(0);
  });

  it('defaults to seeds 0,1,2, the preset steps, the paper-like sweep and all four tasks; --gap-only is a flag', () => {
    const parsed = studyConfig(['study', '--gap-only'])!;
    expect(parsed.gapOnly).toBe(true);
    expect(parsed.config.study).toBeUndefined();
    expect(studySettings(parsed.config)).toEqual({ seeds: [0, 1, 2], steps: null, variances: [0, 0.002, 0.004, 0.015], tasks: ['mmau', 'classify', 'caption', 'aqa'], name: 'study', gapPairs: 300 });
    expect(studyRunConfig(parsed.config, 'mats', 0).train.steps).toBe(parsed.config.train.steps);
  });

  it('names the field of a bad value', () => {
    expect(() => studyConfig(['study', '--tasks', 'mmau,speech'])).toThrow(/study\.tasks\.1/);
    expect(() => studyConfig(['study', '--seeds', '0,-1'])).toThrow(/study\.seeds\.1/);
    expect(() => studyConfig(['study', '--steps', '0'])).toThrow(/study\.steps/);
    expect(() => studyConfig(['study', '--bogus', '1'])).toThrow(/unknown option --bogus/);
  });
});
