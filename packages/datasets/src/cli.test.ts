import { describe, expect, it, vi } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from './cli.js';

describe('mats-data CLI', () => {
  it('world writes a loadable world; inspect counts records per task', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'cli-')), 'w');
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      expect(await main(['world', '--out', dir, '--seed', '3', '--size', 'small'])).toBe(0);
      const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
      expect(manifest.seed).toBe(3);
      expect(manifest.counts).toEqual({ pretrain: 240, train: 160, trainRecords: 640, eval: 60 });
      log.mockClear();
      expect(await main(['inspect', join(dir, 'train.jsonl'), '--examples', '1'])).toBe(0);
      const out = log.mock.calls.map((c) => String(c[0])).join('\n');
      expect(out).toContain('640 valid AudioTIA records');
      expect(out).toMatch(/cls\s+160/);
      expect(out).toMatch(/mcq\s+160/);
      expect(out).toMatch(/world\s+640/);
    } finally {
      log.mockRestore();
    }
  }, 120_000);
  it('bad arguments are errors that show the usage', async () => {
    await expect(main(['world'])).rejects.toThrow('world: --out DIR is required');
    await expect(main(['world', '--out', '/tmp/x', '--size', 'huge'])).rejects.toThrow('--size must be one of small|default|large, got "huge"');
    await expect(main(['world', '--out', '/tmp/x', '--seed', 'abc'])).rejects.toThrow('--seed must be an integer, got "abc"');
    await expect(main(['frobnicate'])).rejects.toThrow('unknown command "frobnicate"');
  });
});
