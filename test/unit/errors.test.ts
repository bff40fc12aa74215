/** Error codes: stable, documented in one table, classified right, and intact across threads. */
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ErrorCode, encodeWire, fromWire, ioError, toWire, WalError } from '../../src/errors.js';
import { ERROR_AREA_BYTES } from '../../src/ring/layout.js';

describe('error codes', () => {
  it('match the README table, one row each', () => {
    const readme = fs.readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## Error codes'));
    const documented = [...section.matchAll(/^\| `(WAL_[A-Z_]+)` +\|/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual(Object.values(ErrorCode).sort());
  });

  const errno = (code: string) => Object.assign(new Error(code), { code, syscall: 'x' });
  const cases: [string, unknown, 'write' | 'sync' | 'open' | 'other', string][] = [
    ['EIO from fdatasync', errno('EIO'), 'sync', ErrorCode.FSYNC_FAILED],
    ['ENOSPC from fdatasync', errno('ENOSPC'), 'sync', ErrorCode.NO_SPACE],
    ['ENOSPC from writev', errno('ENOSPC'), 'write', ErrorCode.NO_SPACE],
    ['EDQUOT from writev', errno('EDQUOT'), 'write', ErrorCode.NO_SPACE],
    ['EIO from writev', errno('EIO'), 'write', ErrorCode.IO_ERROR],
    ['EMFILE from open', errno('EMFILE'), 'open', ErrorCode.IO_ERROR],
  ];
  for (const [name, cause, during, code] of cases) {
    it(`classifies ${name} as ${code}`, () => {
      const error = ioError(cause, during, '/x');
      expect(error.code).toBe(code);
      expect(error.errno).toBe((cause as { code: string }).code);
      expect(error.path).toBe('/x');
    });
  }

  it('survive the trip across threads by code, details and message', () => {
    const original = new WalError(ErrorCode.CORRUPT, 'bad', {
      path: '/p',
      offset: 40,
      errno: 'EIO',
      syscall: 'read',
    });
    const copy = fromWire(structuredClone(toWire(original)));
    expect(copy).toBeInstanceOf(WalError);
    expect({ ...copy, message: copy.message }).toEqual({ ...original, message: original.message });
  });

  it('fit the error area however long the message and path, keeping code, errno and the path end', () => {
    const limit = ERROR_AREA_BYTES;
    const cases = [
      { message: 'short', path: '/short' },
      { message: 'm'.repeat(10_000), path: `/logs/${'d'.repeat(5_000)}/wal-1.log` },
      // Four UTF-8 bytes per character: 200 of them alone are over the area.
      { message: '\u{1F4A5}'.repeat(1_000), path: `/${'\u{1F4C1}'.repeat(300)}/wal-1.log` },
      { message: '', path: '\u4E2D'.repeat(2_000) },
    ];
    for (const { message, path } of cases) {
      const original = new WalError(ErrorCode.FSYNC_FAILED, message, {
        path,
        errno: 'EIO',
        syscall: 'fdatasync',
      });
      const bytes = encodeWire(original, limit);
      expect(bytes.length).toBeLessThanOrEqual(limit);
      const copy = fromWire(JSON.parse(new TextDecoder().decode(bytes)));
      expect(copy).toMatchObject({ code: ErrorCode.FSYNC_FAILED, errno: 'EIO', syscall: 'fdatasync' });
      expect(path.endsWith(copy.path ?? '')).toBe(true);
      if (path.length < 100) expect({ message: copy.message, path: copy.path }).toEqual({ message, path });
    }
  });
});
