/** `ringwal state`: the key-value summary and one key's value; a key not set is exit 1. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openWal } from '../../src/index.js';
import { firstLine, ringwal, ringwalJson } from '../helpers/cli.js';
import { tempDirs } from '../helpers/tmp.js';

const temp = tempDirs();
let dir: string;

beforeAll(async () => {
  dir = temp.dir('ringwal-cli-state-');
  const wal = await openWal(dir, { flushOnExit: false });
  await wal.set('a', { n: 1 });
  await wal.set('b', 2n);
  await wal.set('gone', 'x');
  await wal.append({ not: 'a key-value entry' });
  await wal.rotate();
  await wal.set('a', { n: 2, bytes: Buffer.from([255]) });
  await wal.delete('gone');
  await wal.close();
});
afterAll(() => temp.removeAll());

describe('ringwal state', () => {
  it('summarizes the state: keys, log bytes, time, threads', async () => {
    const text = await ringwal(['state', dir, '--threads', '1']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^2 keys, rebuilt from \d+ B of log in [\d.]+ ms on 1 thread\n$/);
    const { code, json } = await ringwalJson(['state', dir, '--threads', '2']);
    expect(code).toBe(0);
    expect(json).toMatchObject({ dir, keys: 2, threads: 2 });
    expect(json.logBytes).toBeGreaterThan(0);
  });

  it("prints a key's last value as JSON", async () => {
    const text = await ringwal(['state', dir, '--key', 'a']);
    expect(text).toEqual({
      code: 0,
      stdout: '{\n  "n": 2,\n  "bytes": {\n    "$buffer": "/w=="\n  }\n}\n',
      stderr: '',
    });
    const { json } = await ringwalJson(['state', dir, '--key', 'b']);
    expect(json).toEqual({ key: 'b', found: true, value: '2' });
  });

  it('exits 1 for a key that is not set (deleted, or never set)', async () => {
    for (const key of ['gone', 'never']) {
      const r = await ringwal(['state', dir, '--key', key]);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(firstLine(r.stderr)).toBe(
        `ringwal: state ${dir}: key "${key}" is not set (never set, or deleted)`,
      );
    }
    const { code, json, stderr } = await ringwalJson(['state', dir, '--key', 'gone']);
    expect({ code, json, stderr }).toEqual({ code: 1, json: { key: 'gone', found: false }, stderr: '' });
  });
});
