import { runCli } from './cli.js';

runCli(process.argv.slice(2)).catch((err: Error) => {
  // Messages name the file / field; the stack only helps when debugging the code itself.
  process.stderr.write(`evaluator: ${process.env.MATS_DEBUG ? (err.stack ?? err.message) : err.message}\n`);
  process.exitCode = 1;
});
