/** process.exit() right after appending loses nothing: the exit hook blocks until durable. */
import { afterEach, describe, expect, it } from 'vitest';
// @ts-expect-error a plain .mjs fixture, shared with the child processes
import { valueFor } from '../fixtures/entry-value.mjs';
import { exited, startFixture, stderrOf } from '../helpers/child.js';
import { gapless, readAll } from '../helpers/read.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

let dir: string;
afterEach(() => removeDir(dir));

describe('process.exit() with appends in flight', () => {
  for (const sync of ['always', 'interval', 'none']) {
    it(`keeps all 10,000 entries appended without awaiting (sync: '${sync}')`, async () => {
      dir = tempDir('ringwal-exit-');
      const child = startFixture('exit-after-append.mjs', [dir, '10000', sync]);
      const stderr = stderrOf(child);
      const { code } = await exited(child);
      expect(stderr()).toBe('');
      expect(code).toBe(0);
      const entries = await readAll(dir);
      expect(entries).toHaveLength(10_000);
      expect(gapless(entries)).toBeNull();
      for (const entry of entries) expect(entry.value).toEqual(valueFor(entry.lsn));
    });
  }
});
