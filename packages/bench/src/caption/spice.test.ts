import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { computeCaptionMetrics } from './metrics.js';
import { runSpice } from './spice.js';

const dir = mkdtempSync(join(tmpdir(), 'mats-spice-test-'));
const jar = join(dir, 'spice-1.0.jar');
writeFileSync(jar, 'not a real jar');

/**
 * A stand-in for `java` that speaks SPICE's file protocol (`-jar X.jar in.json ... -out out.json`):
 * it scores each item by word overlap F1 between `test` and the first reference. It checks our
 * plumbing (arguments, files, parsing, SPIDEr); it is not SPICE, whose values need the real jar.
 */
const fakeJava = join(dir, 'fake-java');
writeFileSync(
  fakeJava,
  `#!/usr/bin/env node
const fs = require('fs');
const args = process.argv.slice(2);
if (args[0] === '-version') { console.error('fake 1.0'); process.exit(0); }
if (args[0] !== '-jar' || !args[1].startsWith('-Xmx') || !args.includes('-subset') || !args.includes('-silent')) { console.error('bad args ' + args.join(' ')); process.exit(3); }
const input = JSON.parse(fs.readFileSync(args[3], 'utf8'));
const out = args[args.indexOf('-out') + 1];
const f1 = (a, b) => { const A = a.split(' '), B = new Set(b.split(' ')); const m = A.filter((w) => B.has(w)).length; return m === 0 ? 0 : (2 * m) / (A.length + B.size); };
fs.writeFileSync(out, JSON.stringify(input.map((x) => ({ image_id: x.image_id, scores: { All: { f: f1(x.test, x.refs[0]), pr: 0, re: 0 } } }))));
`,
);
chmodSync(fakeJava, 0o755);

describe('SPICE runner', () => {
  it('is unavailable, with a reason, when the jar or Java is missing', () => {
    expect(runSpice(['a'], ['x'], [['x']], { jar: join(dir, 'nope.jar') })).toEqual({ available: false, reason: expect.stringMatching(/SPICE jar not found/) });
    const noJava = runSpice(['a'], ['x'], [['x']], { jar, java: join(dir, 'no-java-here') });
    expect(noJava.available).toBe(false);
    const m = computeCaptionMetrics({ a: 'x' }, { a: ['x'] }, { spiceJar: jar, spice: { java: join(dir, 'no-java-here') } });
    expect(m.SPICE).toBeNull();
    expect(m.SPIDEr).toBeNull();
    expect(m.spiceUnavailableReason).toMatch(/Java is not available/);
  });

  it('reports a failing jar as unavailable with its exit code and error output', () => {
    const failing = join(dir, 'failing-java');
    writeFileSync(failing, `#!/bin/sh\nif [ "$1" = "-version" ]; then exit 0; fi\necho "Exception: could not find stanford-corenlp" >&2\nexit 1\n`);
    chmodSync(failing, 0o755);
    const m = computeCaptionMetrics({ a: 'x' }, { a: ['x'] }, { spiceJar: jar, spice: { java: failing } });
    expect(m.SPICE).toBeNull();
    expect(m.spiceUnavailableReason).toMatch(/SPICE failed: .* exited with 1: Exception: could not find stanford-corenlp/);
    expect(m.Bleu_1).toBeGreaterThan(0.99);
  });

  it('passes tokenised captions through the SPICE file protocol and averages All.f; SPIDEr = (CIDEr + SPICE) / 2', () => {
    const m = computeCaptionMetrics(
      { a: 'A dog barks.', b: 'rain' },
      { a: ['a dog barks', 'x'], b: ['heavy rain falls', 'y'] },
      { spiceJar: jar, spice: { java: fakeJava } },
    );
    // stand-in scores: a -> F1("a dog barks", "a dog barks") = 1; b -> 2*1/(1+3) = .5
    expect(m.perItem.a.SPICE).toBe(1);
    expect(m.perItem.b.SPICE).toBe(0.5);
    expect(m.SPICE).toBe(0.75);
    expect(m.SPIDEr).toBeCloseTo((m.CIDEr + 0.75) / 2, 15);
    expect(m.perItem.b.SPIDEr).toBeCloseTo((m.perItem.b.CIDEr + 0.5) / 2, 15);
    expect(m.spiceUnavailableReason).toBeUndefined();
  });
});
