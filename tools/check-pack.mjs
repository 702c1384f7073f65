#!/usr/bin/env node
// Packs workspace packages with `npm pack`, installs the tarballs into an empty folder outside the
// workspace (dependencies come from the npm registry, the local @mats tarballs from disk) and imports
// each one there. Usage: node tools/check-pack.mjs core [santa ...]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(new URL('..', import.meta.url).pathname);
const names = process.argv.slice(2);
if (names.length === 0) {
  console.error('usage: node tools/check-pack.mjs <package folder name> [...]');
  process.exit(2);
}
const work = mkdtempSync(join(tmpdir(), 'mats-pack-'));
const tarballs = [];
for (const name of names) {
  const dir = join(root, 'packages', name);
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: dir, encoding: 'utf8' });
  tarballs.push(join(work, JSON.parse(out)[0].filename));
}
const consumer = join(work, 'consumer');
execFileSync('mkdir', ['-p', consumer]);
writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
// No .npmrc and no settings: what a user's empty project gets (onnxruntime-node is an optional peer
// of @mats/clap, so its install script, which would download CUDA files, is not involved).
execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', ...tarballs], { cwd: consumer, stdio: 'inherit' });
for (const name of names) {
  const pkg = JSON.parse(readFileSync(join(root, 'packages', name, 'package.json'), 'utf8')).name;
  const script = `const m = await import(${JSON.stringify(pkg)}); console.log(${JSON.stringify(pkg)}, Object.keys(m).length, 'exports');`;
  execFileSync('node', ['--input-type=module', '-e', script], { cwd: consumer, stdio: 'inherit' });
}
console.log(`packed and imported: ${names.join(', ')} (in ${consumer})`);
