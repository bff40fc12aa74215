/**
 * `ringwal state DIR`: the key-value state the log's `{ op: 'set' | 'delete', key, value }`
 * entries describe (`recoverState`, on a pool of worker threads): a summary, or one key's
 * value. A key that is not set (never set, or deleted last) is exit 1, as grep's "no match":
 * scripts can tell it from an error (exit 2).
 */

import * as fs from 'node:fs';
import * as os from 'node:os';
import { Command, Option } from 'commander';
import { recoverState } from '../kv/recover-state.js';
import { RECOVERY_MODES, type RecoveryMode } from '../reader/policy.js';
import { jsonOption, threadsOption } from './args.js';
import type { Context } from './context.js';
import { CliError, EXIT } from './errors.js';
import { toJsonValue } from './json-value.js';
import { openLogDir } from './log-dir.js';
import { bytesText, count, printJson, printWarning } from './output.js';

export function stateCommand(ctx: Context): Command {
  return new Command('state')
    .description("rebuild the key-value state of the log's set/delete entries: a summary, or one key's value")
    .argument('<dir>', 'the log directory')
    .option('--key <key>', "print this key's value (exit 1 if it is not set)")
    .addOption(threadsOption("worker threads for the rebuild (default: the machine's available parallelism)"))
    .addOption(
      new Option('--recovery <mode>', 'what to do with damage, as recoverState')
        .choices(RECOVERY_MODES)
        .default('tolerate-tail'),
    )
    .addOption(jsonOption('the summary or the value'))
    .addHelpText(
      'after',
      `
Example:
  $ ringwal state ./data/wal
  $ ringwal state ./data/wal --key user:1 --json

Entries other than { op: 'set' | 'delete', key, value } are ignored. A key's value is printed
as JSON (the mapping 'ringwal dump --help' describes). Exit 1 when the key is not set.`,
    )
    .action(
      async (
        dir: string,
        options: { key?: string; threads?: number; json?: boolean; recovery: RecoveryMode },
      ) => {
        ctx.what = `state ${dir}`;
        const log = openLogDir(dir);
        const threads = options.threads ?? Math.min(256, os.availableParallelism());
        const started = performance.now();
        const state = await recoverState(log.path, {
          threads,
          recovery: options.recovery,
          onCorruption: (r) =>
            printWarning(ctx.io, ctx.what, `${r.segment} ${r.offset} ${r.reason}: ${r.action}`),
        });
        const ms = performance.now() - started;
        if (options.key !== undefined) {
          const key = options.key;
          const found = state.has(key);
          if (options.json)
            printJson(ctx.out, { key, found, ...(found ? { value: toJsonValue(state.get(key)) } : {}) });
          else if (found) ctx.out.print(`${JSON.stringify(toJsonValue(state.get(key)), null, 2)}\n`);
          if (!found) {
            if (options.json) ctx.exitCode = EXIT.FOUND;
            else
              throw new CliError(`key ${JSON.stringify(key)} is not set (never set, or deleted)`, EXIT.FOUND);
          }
          return;
        }
        const logBytes = log.segments.reduce((n, s) => n + sizeOf(s.path), 0);
        const summary = { dir: log.path, keys: state.size, logBytes, ms: Math.round(ms * 10) / 10, threads };
        if (options.json) printJson(ctx.out, summary);
        else {
          ctx.out.print(
            `${count(summary.keys)} key${summary.keys === 1 ? '' : 's'}, rebuilt from ${bytesText(logBytes)} of log in ${summary.ms} ms on ${threads} thread${threads === 1 ? '' : 's'}\n`,
          );
        }
      },
    );
}

function sizeOf(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}
