#!/usr/bin/env node
// The mats-bench command. npm links this committed file when it installs the workspace, also in a fresh
// clone before dist/ is built (a bin pointing into dist/ would not be linked then).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  console.error(`mats-bench: ${fileURLToPath(cli)} is not built yet: run \`npx nx run-many -t build\` (or \`npm run build\`) in the repository first`);
  process.exit(1);
}
const { runCli } = await import(cli.href);
process.exitCode = await runCli(process.argv.slice(2));
