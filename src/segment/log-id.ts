/** STAND-IN (ship branch only): main's src/segment/log-id.ts replaces it on merge. */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export async function readLogId(dir: string): Promise<string> {
  return readLogIdSync(dir);
}

export function readLogIdSync(dir: string): string {
  const file = path.join(dir, 'LOG_ID');
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    const id = randomBytes(8).toString('hex');
    try {
      fs.writeFileSync(file, `${id}\n`, { flag: 'wx' });
      return id;
    } catch {
      return fs.readFileSync(file, 'utf8').trim();
    }
  }
}
