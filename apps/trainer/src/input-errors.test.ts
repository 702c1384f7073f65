// Bad training inputs stop the run early with an error naming the cause (issue 17, "Unclear
// errors"): an empty text names its file and line, a mapper that cannot feed the LLM is refused
// before any embedding, and a NaN embedding of a validation-only text stops the embedding stage
// (not the first validation, steps later).
import { existsSync, mkdtempSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ClapEncoder } from '@mats/clap';
import { train } from './train.js';
import { loadTrainingData } from './data.js';
import { makeData, standInClap, standInLlm, tinyConfig } from '../test/fixtures.js';

const quiet = { pictures: false, progress: 'silent' as const, log: () => {} };

describe('training input errors', () => {
  it('an empty "text" field names the file and line, not "WordTokenizer: text 2 has no words"', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mats-empty-text-'));
    const texts = makeData(dir);
    const file = join(dir, 'train.jsonl');
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    lines[4] = JSON.stringify({ ...JSON.parse(lines[4]), text: '  ' });
    writeFileSync(file, `${lines.join('\n')}\n`);
    await expect(train(tinyConfig(dir, 'empty', 2), { ...quiet, components: { clap: standInClap(), llm: standInLlm(texts) } })).rejects.toThrow(
      `${file}:5: field "text" is empty (the description CLAP embeds needs at least one word)`,
    );
  });

  it('a mapper width that differs from the LLM n_embd is refused before any embedding', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mats-width-'));
    const texts = makeData(dir);
    const base = tinyConfig(dir, 'width', 2);
    const config = { ...base, mapper: { ...base.mapper, width: 8, projection: false } };
    let embedded = 0;
    const clap = standInClap();
    const counting: ClapEncoder = { ...clap, embedText: (items) => ((embedded += items.length), clap.embedText(items)) };
    await expect(train(config, { ...quiet, components: { clap: counting, llm: standInLlm(texts) } })).rejects.toThrow(
      "mapper.width: 8 differs from the LLM's n_embd 16",
    );
    expect(embedded).toBe(0);
    expect(existsSync(join(dir, 'cache'))).toBe(false);
  });

  it('a NaN embedding of a validation-only text stops the embedding stage, naming the text', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mats-nan-validation-'));
    const texts = makeData(dir);
    const base = tinyConfig(dir, 'nanval', 4);
    const config = { ...base, data: { ...base.data, validationFraction: 0.4 } };
    const data = await loadTrainingData(config, false);
    const trainTexts = new Set(data.train.flat().map((r) => r.text));
    const victim = data.validation.map((r) => r.text).find((t) => !trainTexts.has(t));
    expect(victim, 'the fixture holds out a text that no training record has').toBeDefined();
    const clap = standInClap();
    const bad: ClapEncoder = {
      ...clap,
      embedText: async (items: string[]) => {
        const e = await clap.embedText(items);
        items.forEach((t, r) => t === victim && (e.data[r * e.dim + 1] = Number.POSITIVE_INFINITY));
        return e;
      },
    };
    await expect(train(config, { ...quiet, components: { clap: bad, llm: standInLlm(texts) } })).rejects.toThrow(
      `the text embedding of "${victim}"`,
    );
    // Stopped before training: no checkpoint and no metrics line were written.
    expect(existsSync(join(dir, 'runs', 'nanval', 'checkpoints', 'latest.json'))).toBe(false);
  });

  it('a text-only run whose records name missing clips finishes: Figure 3 skips them, runs/latest is updated, --resume works', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mats-missing-clips-'));
    const texts = makeData(dir);
    const file = join(dir, 'train.jsonl');
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n').map((l, i) => JSON.stringify({ ...JSON.parse(l), audio: `clips/missing-${i}.wav` }));
    writeFileSync(file, `${lines.join('\n')}\n`);
    const config = tinyConfig(dir, 'missing', 2);
    const verbose = { progress: 'silent' as const, log: () => {} };
    const first = await train(config, { ...verbose, components: { clap: standInClap(), llm: standInLlm(texts) } });
    expect(first.step).toBe(2);
    const summary = JSON.parse(readFileSync(join(first.runDir, 'train-summary.json'), 'utf8'));
    expect(summary.pictures.skippedClips.length).toBeGreaterThan(0);
    for (const c of summary.pictures.skippedClips) expect(c.reason).toContain(`${c.audio}: cannot read audio file (ENOENT)`);
    expect(realpathSync(join(dir, 'runs', 'latest'))).toBe(realpathSync(first.runDir));
    const again = await train(config, { ...verbose, resume: true, components: { clap: standInClap(), llm: standInLlm(texts) } });
    expect(again.step).toBe(2);
  });
});
