/**
 * The process the fault-injection tests kill: trains the tiny run of fixtures.ts.
 * Usage: node --import tsx test/fault-child.ts DIR NAME STEPS [resume]
 */
import { makeData, quiet, standInClap, standInLlm, tinyConfig } from './fixtures.js';
import { train } from '../src/train.js';

const [dir, name, steps, mode] = process.argv.slice(2);
const texts = makeData(dir);
await train(tinyConfig(dir, name, Number(steps)), { ...quiet, resume: mode === 'resume', components: { clap: standInClap(), llm: standInLlm(texts) } });
process.stdout.write('finished\n');
