#!/usr/bin/env node
// The mats-data command. npm links this committed file when it installs the workspace, also in a fresh
// clone before dist/ is built (a bin pointing into dist/ would not be linked then).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  console.error(`mats-data: ${fileURLToPath(cli)} is not built yet: run \`npx nx run-many -t build\` (or \`npm run build\`) in the repository first`);
  process.exit(1);
}
const { main } = await import(cli.href);
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(`mats-data: ${err.message}`);
    process.exit(1);
  },
);
