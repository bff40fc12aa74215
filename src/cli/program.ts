/**
 * The `ringwal` command-line tool (`ringwal/cli`): `buildProgram` makes the commander program,
 * `run(argv)` runs it and resolves with the exit code, so the tool can be driven in-process
 * (tests, a wrapper script) as well as by src/cli/main.ts. Commander is told never to exit
 * the process or print on its own: its usage errors come back here and exit 2, worded as
 * every other error, `ringwal: <what>: <why>`.
 *
 * No top-level await anywhere under src/cli: `require('ringwal/cli')` must keep working.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { benchCommand } from './bench.js';
import { Context } from './context.js';
import { dumpCommand } from './dump.js';
import { EXIT, exitCodeOf, oneLine } from './errors.js';
import { inspectCommand } from './inspect.js';
import { type CliIo, printError, processIo } from './output.js';
import { repairCommand } from './repair.js';
import { stateCommand } from './state.js';
import { verifyCommand } from './verify.js';

export { EXIT } from './errors.js';
export type { CliIo } from './output.js';

export function buildProgram(ctx: Context): Command {
  const program = new Command('ringwal')
    .description('Inspect, verify, dump, repair and benchmark ringwal write-ahead logs.')
    .version(packageVersion(), '-V, --version', 'print the version')
    .helpCommand('help [command]', 'show help for a command')
    .showSuggestionAfterError(true)
    .addHelpText(
      'after',
      `
Examples:
  $ ringwal inspect ./data/wal
  $ ringwal verify ./data/wal --threads 4
  $ ringwal dump ./data/wal --from 100 --limit 10
  $ ringwal bench --entries 50000

Exit codes: 0 done (clean); 1 damage found, or no such key (state); 2 bad arguments, a
directory that is not a readable log, a locked log (repair) or an I/O error.
Every command takes --json. 'ringwal <command> --help' shows its options and an example.`,
    );
  for (const command of [
    inspectCommand(ctx),
    verifyCommand(ctx),
    dumpCommand(ctx),
    repairCommand(ctx),
    stateCommand(ctx),
    benchCommand(ctx),
  ]) {
    program.addCommand(command);
  }
  for (const command of [program, ...program.commands]) quiet(command, ctx);
  return program;
}

/** Commander throws instead of exiting, writes help to our streams, and words its errors as ours. */
function quiet(command: Command, ctx: Context): void {
  const name = command.name() === 'ringwal' ? 'ringwal' : command.name();
  command.exitOverride();
  command.helpOption('-h, --help', 'show help');
  command.configureOutput({
    writeOut: (text) => ctx.out.print(text),
    writeErr: (text) => ctx.err.print(text),
    outputError: (text, write) => {
      const why = oneLine(text.replace(/^error: /, ''));
      write(`ringwal: ${name === 'ringwal' ? 'usage' : name}: ${why}\n`);
    },
  });
}

/**
 * Runs the tool with `argv` (the arguments after the program name) and resolves with the exit
 * code; it never calls process.exit. `io` replaces the process's streams (in-process use).
 */
export async function run(argv: readonly string[], io: Partial<CliIo> = {}): Promise<number> {
  const ctx = new Context({ ...processIo(), ...io });
  const program = buildProgram(ctx);
  if (argv.length === 0) {
    ctx.err.print(
      `ringwal: usage: no command given (${program.commands.map((c) => c.name()).join(', ')}); see 'ringwal --help'\n`,
    );
    return EXIT.USAGE_OR_IO;
  }
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return ctx.exitCode;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and --version exit 0; every usage error (already printed) exits 2.
      return e.exitCode === 0 ? EXIT.OK : EXIT.USAGE_OR_IO;
    }
    printError(ctx.io, ctx.what, e);
    return exitCodeOf(e);
  }
}

/** The version in the package.json above this file (dist/src/cli or src/cli). */
function packageVersion(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up < 5; up++) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'ringwal' && pkg.version) return pkg.version;
    } catch {
      // not here: look one level up
    }
    dir = path.dirname(dir);
  }
  return 'unknown';
}
