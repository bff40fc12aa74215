/**
 * The owner judgement (src/lock/owner.ts), table-driven: never 'dead' for an owner that might
 * run, and the directory-sync fallback for file systems without directory fsync (src/fs.ts).
 */
import { describe, expect, it } from 'vitest';
import { type FileSystem, nodeFs, syncDirectory } from '../../src/fs.js';
import { currentOwner, judgeOwner, type OwnerRecord, parseOwner } from '../../src/lock/owner.js';

const me = currentOwner(true);
const deadPid = 2 ** 22 + 17; // above pid_max's default: no such process

const cases: Array<[string, Partial<OwnerRecord>, 'dead' | 'alive' | 'unknown']> = [
  ['this process', { pid: me.pid, start: me.start }, 'alive'],
  ['this pid with another start time (a recycled pid)', { pid: me.pid, start: '1' }, 'dead'],
  ['a pid that does not exist', { pid: deadPid }, 'dead'],
  ['a pid that is not a number', { pid: Number.NaN }, 'dead'],
  ['another PID namespace of this boot', { pidNamespace: 'pid:[1]', pid: deadPid }, 'unknown'],
  ['an unrecorded PID namespace', { pidNamespace: '', pid: deadPid }, 'unknown'],
  ['an earlier boot of this host', { bootId: 'earlier', pid: me.pid, start: me.start }, 'dead'],
  ['another host, another boot', { host: 'elsewhere', bootId: 'other' }, 'unknown'],
  ['another host, no boot id recorded', { host: 'elsewhere', bootId: '' }, 'unknown'],
  ['this host, no boot id recorded, pid gone', { bootId: '', pid: deadPid }, 'dead'],
];

describe('judgeOwner', () => {
  it.each(cases)('%s', (_, changes, expected) => {
    expect(judgeOwner({ ...me, ...changes }, me).kind).toBe(expected);
  });

  it('reads first-format records ({ pid, start, token }) by pid and start time alone', () => {
    const legacy = parseOwner(JSON.stringify({ pid: me.pid, start: me.start, token: 'x' }))!;
    expect(judgeOwner(legacy, me).kind).toBe('alive');
    expect(judgeOwner({ ...legacy, pid: deadPid }, me).kind).toBe('dead');
  });

  it('parses no owner out of empty, torn or non-object text', () => {
    const whole = JSON.stringify(me);
    for (const text of ['', whole.slice(0, whole.length - 1), 'null', '[1]', '"LOCK"', '42']) {
      expect(parseOwner(text)).toBeNull();
    }
    expect(parseOwner(whole)).toEqual(me);
  });
});

describe('syncDirectory', () => {
  const failing = (code: string): FileSystem => ({
    ...nodeFs,
    fsyncSync: () => {
      throw Object.assign(new Error(`${code}: injected`), { code, syscall: 'fsync' });
    },
  });

  it.each(['EINVAL', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS'])(
    'takes %s as a file system without directory fsync, not as a failed sync',
    (code) => {
      expect(() => syncDirectory(failing(code), '.')).not.toThrow();
    },
  );

  it.each(['EIO', 'ENOSPC', 'EROFS'])('throws %s', (code) => {
    expect(() => syncDirectory(failing(code), '.')).toThrow(expect.objectContaining({ code }));
  });
});
