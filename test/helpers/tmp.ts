import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** A fresh directory under the OS temp dir. */
export function tempDir(prefix = 'ringwal-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Temp directories made by `dir(prefix)`, all removed by `removeAll()` (call it in afterAll). */
export function tempDirs(): { dir: (prefix: string) => string; removeAll: () => void } {
  const made: string[] = [];
  return {
    dir: (prefix) => {
      const d = tempDir(prefix);
      made.push(d);
      return d;
    },
    removeAll: () => {
      for (const d of made.splice(0)) removeDir(d);
    },
  };
}
