/** What the main thread and the writer thread tell each other outside shared memory (only at start). */
import type { WireError } from '../errors.js';
import type { FilledRetention, SyncMode } from '../options.js';
import type { CorruptionReport, RecoveryMode } from '../reader/policy.js';

/** The writer's settings, filled from the log's options by the main thread (src/wal.ts). */
export interface WriterConfig {
  dir: string;
  sync: SyncMode;
  syncIntervalMs: number;
  segmentBytes: number;
  maxEntryBytes: number;
  /** Largest record payload (a quarter of the ring, or maxEntryBytes if smaller); recorded in each segment header. */
  maxRecordBytes: number;
  /** A batch is cut after about this many bytes so one writev + fdatasync stays bounded. */
  maxBatchBytes: number;
  /** Longest sleep when idle; bounds how late the loop notices anything time-based. */
  idleWaitMs: number;
  /** Rotate a segment holding entries once it is this old; 0: never by time. */
  rotateIntervalMs: number;
  /** Keep zero-filled, synced space ahead of the write position (src/writer/preallocation.ts). */
  preallocate: boolean;
  retention: FilledRetention;
  /** What open does with damage (src/reader/policy.ts). Default `'tolerate-tail'`. */
  recovery?: RecoveryMode;
  /** Mode of the files the writer creates (the `fileMode` option); read by the worker shell's file system. */
  fileMode?: number;
}

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
  | { type: 'ready'; lastLsn: number; corruptions: CorruptionReport[]; segment: string | null; logId: string }
  | { type: 'open-failed'; error: WireError };
