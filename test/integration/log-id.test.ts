/** The log's identity (LOG_ID): written once, the same on every open, readable from another process. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ErrorCode, openWal } from '../../src/index.js';
import { readLogId } from '../../src/segment/log-id.js';
import { tempDirs } from '../helpers/tmp.js';

const dirs = tempDirs();
afterAll(() => dirs.removeAll());

describe('LOG_ID', () => {
  it('is a UUID written on first open and kept by every later open', async () => {
    const dir = dirs.dir('log-id-');
    const first = await openWal(dir);
    expect(first.logId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(await readLogId(dir)).toBe(first.logId);
    expect(fs.readFileSync(path.join(dir, 'LOG_ID'), 'utf8')).toBe(`${first.logId}\n`);
    expect(fs.existsSync(path.join(dir, 'LOG_ID.tmp'))).toBe(false);
    await first.append('x');
    await first.close();
    const again = await openWal(dir);
    expect(again.logId).toBe(first.logId);
    await again.close();
    // Another log gets another identity.
    const other = await openWal(dirs.dir('log-id-other-'));
    expect(other.logId).not.toBe(first.logId);
    await other.close();
  });

  it('refuses a damaged LOG_ID with WAL_CORRUPT naming it, and a missing one with WAL_IO_ERROR', async () => {
    const dir = dirs.dir('log-id-bad-');
    await (await openWal(dir)).close();
    fs.writeFileSync(path.join(dir, 'LOG_ID'), 'not a uuid\n');
    const error = await openWal(dir).catch((e) => e);
    expect(error.code).toBe(ErrorCode.CORRUPT);
    expect(error.path).toBe(path.join(dir, 'LOG_ID'));
    await expect(readLogId(dir)).rejects.toMatchObject({ code: ErrorCode.CORRUPT });
    await expect(readLogId(dirs.dir('log-id-none-'))).rejects.toMatchObject({ code: ErrorCode.IO_ERROR });
  });
});
