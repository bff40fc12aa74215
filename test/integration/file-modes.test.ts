/**
 * Private files (issue #16): what a log creates (directories, segments, CHECKPOINT, LOCK) has
 * the default modes 0700/0600 whatever the process umask, and exactly the configured modes
 * when given; an existing directory keeps its own. Each case in a child process, because the
 * umask is per process (and cannot be set from a worker thread).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ErrorCode, openWal, WalError } from '../../src/index.js';
import { exited, lines, startFixture, stderrOf } from '../helpers/child.js';
import { tempDirs } from '../helpers/tmp.js';

const tmp = tempDirs();
afterAll(() => tmp.removeAll());

async function modesUnder(root: string, umask: string, ...modes: string[]): Promise<Record<string, string>> {
  const child = startFixture('file-modes.mjs', [root, umask, ...modes]);
  const stderr = stderrOf(child);
  let out = '';
  lines(child, (line) => {
    out = line;
  });
  const { code } = await exited(child);
  if (code !== 0) throw new Error(`file-modes fixture failed (${code}): ${stderr()}`);
  return JSON.parse(out) as Record<string, string>;
}

function expectModes(modes: Record<string, string>, dirMode: string, fileMode: string): void {
  const names = Object.keys(modes);
  // What must be there for the check to mean anything: both directories, segments, the
  // checkpoint and the lock.
  expect(names).toEqual(expect.arrayContaining(['a', 'a/b', 'a/b/LOCK', 'a/b/CHECKPOINT']));
  expect(names.filter((n) => /^a\/b\/wal-\d{16}-.*\.log$/.test(n)).length).toBeGreaterThan(2);
  for (const [name, mode] of Object.entries(modes)) {
    expect(`${name} ${mode}`).toBe(`${name} ${name === 'a' || name === 'a/b' ? dirMode : fileMode}`);
  }
}

describe('modes of what a log creates', () => {
  for (const umask of ['000', '022', '077']) {
    it(`are 0700 and 0600 by default under umask ${umask}`, async () => {
      expectModes(await modesUnder(tmp.dir('ringwal-modes-'), umask), '0700', '0600');
    });
  }

  for (const umask of ['000', '077']) {
    it(`are exactly fileMode 0640 (and dirMode 0750 derived from it) under umask ${umask}`, async () => {
      expectModes(await modesUnder(tmp.dir('ringwal-modes-'), umask, '640'), '0750', '0640');
    });
  }

  it('are exactly the given fileMode and dirMode', async () => {
    expectModes(await modesUnder(tmp.dir('ringwal-modes-'), '022', '660', '770'), '0770', '0660');
  });

  it("leave an existing directory's mode alone", async () => {
    const root = tmp.dir('ringwal-modes-');
    fs.mkdirSync(path.join(root, 'a', 'b'), { recursive: true });
    fs.chmodSync(path.join(root, 'a'), 0o755);
    fs.chmodSync(path.join(root, 'a', 'b'), 0o751);
    const modes = await modesUnder(root, '000');
    expect(modes.a).toBe('0755');
    expect(modes['a/b']).toBe('0751');
    expect(modes['a/b/LOCK']).toBe('0600');
  });

  it('refuse modes that are not modes, or that lock the owner out, with WAL_INVALID_OPTION', async () => {
    const dir = tmp.dir('ringwal-modes-');
    for (const options of [
      { fileMode: 0o400 },
      { fileMode: 0o1600 },
      { fileMode: -1 },
      { fileMode: '0600' },
      { fileMode: 1.5 },
      { dirMode: 0o600 },
      { dirMode: 0o7777 },
      { breakLock: 'yes' },
    ]) {
      const error = await openWal(dir, options as never).then(
        (wal) => wal.close().then(() => null),
        (e: unknown) => e,
      );
      expect(error, JSON.stringify(options)).toBeInstanceOf(WalError);
      expect((error as WalError).code).toBe(ErrorCode.INVALID_OPTION);
      expect((error as WalError).message).toMatch(/options\.(fileMode|dirMode|breakLock)/);
    }
    expect(fs.readdirSync(dir)).toEqual([]); // refused before touching anything
  });
});
