import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

describe('npm pack', () => {
  it('the @mats/core tarball installs into an empty folder outside the workspace and imports', async () => {
    const script = new URL('../../../tools/check-pack.mjs', import.meta.url).pathname;
    // Asynchronous on purpose: a synchronous child process blocks this vitest worker for the whole
    // install (1-2 minutes on a loaded machine), so it cannot answer vitest's RPC and the run fails
    // with `Timeout calling "onTaskUpdate"` although every test passed.
    const { stdout } = await promisify(execFile)('node', [script, 'core'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' }, maxBuffer: 64 * 1024 * 1024 });
    expect(stdout).toMatch(/@mats\/core \d+ exports/);
    expect(stdout).toMatch(/packed and imported: core/);
  }, 600_000);
});
