import { readWal, type WalEntry } from '../../src/index.js';

export async function readAll(dir: string, fromLsn?: number): Promise<WalEntry[]> {
  const out: WalEntry[] = [];
  for await (const entry of readWal(dir, { fromLsn })) out.push(entry);
  return out;
}

/** Checks LSNs run 1, 2, 3... with no gap; returns the first violation or null. */
export function gapless(entries: WalEntry[]): string | null {
  for (let i = 0; i < entries.length; i++) {
    if (entries[i].lsn !== i + 1) return `entry ${i} has LSN ${entries[i].lsn}, expected ${i + 1}`;
  }
  return null;
}
