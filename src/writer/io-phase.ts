/**
 * What I/O the writer is in the middle of, so that a failure is classified right (ioError in
 * src/errors.ts: anything failing during a sync is WAL_FSYNC_FAILED, which poisons the log).
 * The commit loop and its helpers (preallocation.ts) set it before each step; the loop's guard
 * reads it when a step throws. One shared object, so no step needs to catch and rethrow.
 */
export type IoStep = 'write' | 'sync' | 'open' | 'other';

export class IoPhase {
  during: IoStep = 'write';
}
