import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '@mats/app-shared';
import { evaluatorConfig } from './cli.js';
import { prepareTask } from './tasks.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'mats-eval-inputs-'));

describe('evaluator inputs', () => {
  it('names the run folder that does not exist', () => {
    expect(() => evaluatorConfig(['mmau', '--run', '/nonexistent/run'])).toThrow(/eval\.run: \/nonexistent\/run does not exist/);
  });

  it('rejects unknown targets and misplaced options', () => {
    expect(() => evaluatorConfig(['translate'])).toThrow(/unknown target "translate"/);
    expect(() => evaluatorConfig(['ablation', '--data', 'x.json', '--preset', 'world'])).toThrow(/--data applies to one task/);
    expect(() => evaluatorConfig(['mmau', '--preset', 'world', '--method', 'magic'])).toThrow(/eval\.method: /);
  });

  it('names the file, item and field of bad evaluation data', () => {
    const dir = tmp();
    const file = join(dir, 'mmau.json');
    const good = { id: 'a', audio_id: 'a.wav', question: 'q?', choices: ['x', 'y'], answer: 'x', task: 'sound', difficulty: 'easy' };
    const config = (data: string) => resolveConfig({ overrides: [{ path: 'eval.mmau.data', raw: data }, { path: 'eval.mmau.audioDir', raw: dir }] });
    writeFileSync(file, JSON.stringify([good, { ...good, id: 'b', choices: 'x, y' }]));
    expect(() => prepareTask('mmau', config(file))).toThrow(/mmau\.json: item 1: field "choices" must be a non-empty list of strings, got "x, y"/);
    writeFileSync(file, JSON.stringify([good, { ...good, id: 'b', answer: 'z' }]));
    expect(() => prepareTask('mmau', config(file))).toThrow(/item 1: field "answer" must be one of the choices/);
    writeFileSync(file, JSON.stringify([good, good]));
    expect(() => prepareTask('mmau', config(file))).toThrow(/item 1: id "a" appears more than once/);
    writeFileSync(file, '{ not json');
    expect(() => prepareTask('mmau', config(file))).toThrow(/mmau\.json: not valid JSON/);
    expect(() => prepareTask('mmau', config(join(dir, 'missing.json')))).toThrow(/missing\.json: cannot read \(ENOENT\)/);
  });

  it('resolves audio paths against the audio folder and builds the paper prompt', () => {
    const dir = tmp();
    const file = join(dir, 'mmau.json');
    writeFileSync(file, JSON.stringify([{ id: 'a', audio_id: './test-mini-audios/a.wav', question: 'Which animal?', choices: ['dog', 'cat'], answer: 'cat', task: 'sound', difficulty: 'easy' }]));
    const config = resolveConfig({ overrides: [{ path: 'eval.mmau.data', raw: file }, { path: 'eval.mmau.audioDir', raw: '/data/mmau' }] });
    const task = prepareTask('mmau', config);
    expect(task.items).toEqual([{ id: 'a', audio: '/data/mmau/test-mini-audios/a.wav', prompt: 'Which animal? Select one option: dog, cat Respond with exactly one of the options above.' }]);
  });
});
