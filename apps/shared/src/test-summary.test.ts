import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// tools/test-summary.mjs prints the closing line of `npm test`; every failed task must count.
const script = new URL('../../../tools/test-summary.mjs', import.meta.url).pathname;

function checkout(projects: Record<string, object | null>): string {
  const root = mkdtempSync(join(tmpdir(), 'mats-summary-'));
  for (const [name, report] of Object.entries(projects)) {
    const dir = join(root, 'packages', name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, scripts: { test: 'vitest run' } }));
    if (report) writeFileSync(join(dir, 'test-results.json'), JSON.stringify(report));
  }
  return root;
}
const ok = (n: number) => ({ numPassedTests: n, numFailedTests: 0, numPendingTests: 1, numTodoTests: 0, success: true, testResults: [] });
const summary = (root: string, ...args: string[]) => spawnSync(process.execPath, [script, '--root', root, ...args], { encoding: 'utf8' });

describe('tools/test-summary.mjs', () => {
  it('adds up passing projects and exits 0', () => {
    const r = summary(checkout({ a: ok(3), b: ok(4) }));
    expect(r.stdout).toContain('Tests: 7 passed, 0 failed, 2 skipped');
    expect(r.status).toBe(0);
  });

  it('a vitest worker error with every test passing, and a project without a report, are failures', () => {
    const workerError = { ...ok(22), success: false };
    const loadError = { ...ok(5), testResults: [{ name: '/x/src/a.test.ts', status: 'failed', message: 'Error: Cannot find module', assertionResults: [] }] };
    const r = summary(checkout({ core: workerError, crashed: null, mapper: { ...ok(10), numFailedTests: 2, success: false }, loads: loadError }));
    expect(r.stdout).toContain('Tests: 37 passed, 5 failed, 3 skipped (2 failed tests, 3 failed tasks)');
    expect(r.stdout).toContain('packages/core (the run did not succeed (a worker or unhandled error');
    expect(r.stdout).toContain('packages/crashed (no test report');
    expect(r.stdout).toContain('/x/src/a.test.ts: Error: Cannot find module');
    expect(r.status).toBe(1);
  });

  it('a task nx lists as failed counts even when its JSON report is clean (vitest leaves worker RPC timeouts out of it)', () => {
    const root = checkout({ '@mats+core': ok(27), santa: ok(3) });
    writeFileSync(join(root, 'packages', '@mats+core', 'package.json'), JSON.stringify({ name: '@mats/core', scripts: { test: 'vitest run' } }));
    const log = join(root, 'test-output.log');
    writeFileSync(log, '@mats/core: Error: [vitest-worker]: Timeout calling "onTaskUpdate"\n\n \u001b[31m NX \u001b[39m  Running target test for 2 projects failed\n\nFailed tasks:\n\n- @mats/core:test\n');
    const r = summary(root, '--nx-log', log);
    expect(r.stdout).toContain('Tests: 30 passed, 1 failed, 2 skipped (0 failed tests, 1 failed tasks)');
    expect(r.stdout).toContain('nx reports @mats/core:test failed although its report counts no failed test');
    expect(r.status).toBe(1);
  });

  it('--clean removes stale reports so they never count', () => {
    const root = checkout({ a: ok(1) });
    expect(summary(root, '--clean').status).toBe(0);
    expect(existsSync(join(root, 'packages', 'a', 'test-results.json'))).toBe(false);
  });
});
