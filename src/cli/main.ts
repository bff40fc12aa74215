#!/usr/bin/env node
/** The `ringwal` bin: runs the tool (src/cli/program.ts) and exits with its code. */
import { run } from './program.js';

run(process.argv.slice(2), { ownsProcess: true }).then((code) => {
  process.exitCode = code;
});
