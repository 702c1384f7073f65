#!/usr/bin/env node
/** The mats command (see cli-main.ts for the commands and options). */
import { runCli } from './cli-main.js';

process.exitCode = await runCli(process.argv.slice(2));
