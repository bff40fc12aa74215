/**
 * The `ringwal` program as a whole: help, version, usage errors (exit 2, one line, no stack),
 * the DIR checks every command shares, and `run()` in-process.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/cli/program.js';
import { firstLine, makeLog, ringwal } from '../helpers/cli.js';
import { tempDirs } from '../helpers/tmp.js';

const temp = tempDirs();
let log: string;
let empty: string;
let notLog: string;
let file: string;

beforeAll(async () => {
  log = temp.dir('ringwal-cli-program-');
  await makeLog(log, { segments: 2, perSegment: 20 });
  empty = temp.dir('ringwal-cli-empty-');
  notLog = temp.dir('ringwal-cli-notlog-');
  fs.writeFileSync(path.join(notLog, 'notes.txt'), 'hello');
  file = path.join(notLog, 'notes.txt');
});
afterAll(() => temp.removeAll());

describe.concurrent('ringwal help and version', () => {
  it('--help lists every command and an example, on stdout, exit 0', async () => {
    const r = await ringwal(['--help']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    for (const command of ['inspect', 'verify', 'dump', 'repair', 'state', 'bench']) {
      expect(r.stdout).toContain(command);
    }
    expect(r.stdout).toContain('$ ringwal inspect ./data/wal');
  });

  it.each(['inspect', 'verify', 'dump', 'repair', 'state', 'bench'])(
    '%s --help shows --json and an example',
    async (command) => {
      const r = await ringwal([command, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('--json');
      expect(r.stdout).toMatch(new RegExp(`Example:\\n  \\$ ringwal ${command}`));
    },
  );

  it('--version prints the package version', async () => {
    const r = await ringwal(['--version']);
    const pkg = JSON.parse(
      fs.readFileSync(path.join(import.meta.dirname, '..', '..', 'package.json'), 'utf8'),
    );
    expect(r).toMatchObject({ code: 0, stdout: `${pkg.version}\n` });
  });
});

describe.concurrent('usage errors exit 2 with one line on stderr', () => {
  // LOG in an expected line stands for the log's path.
  const cases: [string, () => string[], string][] = [
    [
      'no command',
      () => [],
      "ringwal: usage: no command given (inspect, verify, dump, repair, state, bench); see 'ringwal --help'",
    ],
    [
      'an unknown command',
      () => ['inpsect', log],
      "ringwal: usage: unknown command 'inpsect' (Did you mean inspect?)",
    ],
    [
      'an unknown option',
      () => ['dump', log, '--lmit', '3'],
      "ringwal: dump: unknown option '--lmit' (Did you mean --limit?)",
    ],
    [
      'a negative --limit',
      () => ['dump', log, '--limit', '-1'],
      "ringwal: dump: option '--limit <n>' argument '-1' is invalid. must be an integer >= 0",
    ],
    [
      'a fractional --from',
      () => ['dump', log, '--from', '1.5'],
      "ringwal: dump: option '--from <lsn>' argument '1.5' is invalid. must be an integer >= 1",
    ],
    [
      '--from after --to',
      () => ['dump', log, '--from', '10', '--to', '5'],
      'ringwal: dump LOG: --from 10 is after --to 5',
    ],
    [
      '--json with --format table',
      () => ['dump', log, '--json', '--format', 'table'],
      'ringwal: dump LOG: --json and --format table contradict each other',
    ],
    [
      'an unknown --format',
      () => ['dump', log, '--format', 'csv'],
      "ringwal: dump: option '--format <format>' argument 'csv' is invalid. Allowed choices are ndjson, table, lines.",
    ],
    [
      'a non-numeric --threads',
      () => ['verify', log, '--threads', 'four'],
      "ringwal: verify: option '--threads <n>' argument 'four' is invalid. must be an integer from 1 to 256",
    ],
    [
      '--threads 0',
      () => ['state', log, '--threads', '0'],
      "ringwal: state: option '--threads <n>' argument '0' is invalid. must be an integer from 1 to 256",
    ],
    [
      'an unknown --mode',
      () => ['repair', log, '--mode', 'strict'],
      "ringwal: repair: option '--mode <mode>' argument 'strict' is invalid. Allowed choices are point-in-time, skip-corrupt.",
    ],
    ['no --mode', () => ['repair', log], "ringwal: repair: required option '--mode <mode>' not specified"],
    ['a missing DIR', () => ['inspect'], "ringwal: inspect: missing required argument 'dir'"],
    [
      'two DIRs',
      () => ['verify', log, log],
      "ringwal: verify: too many arguments for 'verify'. Expected 1 argument but got 2.",
    ],
    [
      'an unknown --sync',
      () => ['bench', '--sync', 'sometimes'],
      "ringwal: bench: option '--sync <mode>' argument 'sometimes' is invalid. Allowed choices are always, interval, none.",
    ],
    [
      '--entries 0',
      () => ['bench', '--entries', '0'],
      "ringwal: bench: option '--entries <n>' argument '0' is invalid. must be an integer from 1 to 100,000,000",
    ],
  ];
  it.each(cases)('%s', async (_name, args, line) => {
    const r = await ringwal(args());
    expect(r.code).toBe(2);
    expect(firstLine(r.stderr)).toBe(line.replace('LOG', log));
    expect(r.stdout).toBe('');
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });
});

describe.concurrent('DIR checks, shared by every command', () => {
  const cases: [string, string, () => string, string][] = [
    ['inspect', 'a missing directory', () => path.join(empty, 'nope'), 'no such directory'],
    ['verify', 'a missing directory', () => path.join(empty, 'nope'), 'no such directory'],
    ['dump', 'a missing directory', () => path.join(empty, 'nope'), 'no such directory'],
    ['state', 'a missing directory', () => path.join(empty, 'nope'), 'no such directory'],
    ['repair', 'a missing directory', () => path.join(empty, 'nope'), 'no such directory'],
    ['inspect', 'a plain file', () => file, "not a directory: it is a file; give the log's directory"],
    [
      'verify',
      'a path through a file',
      () => path.join(file, 'x'),
      'not a directory (a part of the path is a file)',
    ],
    ['verify', 'an empty directory', () => empty, 'not a ringwal log: the directory is empty'],
    [
      'dump',
      'a directory of other files',
      () => notLog,
      'not a ringwal log: no segment files (wal-*.log) and no LOCK',
    ],
  ];
  it.each(cases)('%s: %s', async (command, _name, dir, why) => {
    const args = command === 'repair' ? [command, dir(), '--mode', 'point-in-time'] : [command, dir()];
    const r = await ringwal(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`ringwal: ${command} ${dir()}: ${why}\n`);
    expect(r.stdout).toBe('');
  });

  it('repair creates nothing in a directory that is not a log', async () => {
    const r = await ringwal(['repair', empty, '--mode', 'point-in-time']);
    expect(r.code).toBe(2);
    expect(fs.readdirSync(empty)).toEqual([]);
  });
});

describe('run() in-process', () => {
  it('runs a command on the streams it is given and resolves with the exit code', async () => {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = '';
    let err = '';
    stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    expect(await run(['verify', log, '--json'], { stdout, stderr })).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ ok: true, entries: 40, firstLsn: 1, lastLsn: 40 });
    expect(await run(['verify', path.join(log, 'nope')], { stdout, stderr })).toBe(2);
    expect(err).toBe(`ringwal: verify ${path.join(log, 'nope')}: no such directory\n`);
  });
});
