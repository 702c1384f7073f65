import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';

describe('npm pack', () => {
  it('the @mats/core tarball installs into an empty folder outside the workspace and imports', () => {
    const script = new URL('../../../tools/check-pack.mjs', import.meta.url).pathname;
    const out = execFileSync('node', [script, 'core'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } });
    expect(out).toMatch(/@mats\/core \d+ exports/);
    expect(out).toMatch(/packed and imported: core/);
  }, 240_000);
});
