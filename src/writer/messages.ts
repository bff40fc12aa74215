/** What the main thread and the writer thread tell each other outside shared memory (only at start). */
import type { WireError } from '../errors.js';
import type { CorruptionReport } from '../reader/policy.js';
import type { WriterConfig } from './log-writer.js';

export interface WriterData {
  sab: SharedArrayBuffer;
  config: WriterConfig;
  /**
   * Tests only: a module whose `wrapFs(fs, plan)` returns the file system the writer uses,
   * to inject faults the OS will not produce on demand (EIO from fdatasync, short writes).
   */
  faultFs?: { module: string; plan: unknown };
}

export type WriterMessage =
  | { type: 'ready'; lastLsn: number; corruptions: CorruptionReport[]; segment: string | null }
  | { type: 'open-failed'; error: WireError };
