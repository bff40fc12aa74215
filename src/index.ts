/** ringwal's public API. */
export { ErrorCode, WalError } from './errors.js';
export { openWal } from './open.js';
export type { RetentionOptions, SyncMode, WalOptions } from './options.js';
export { type ReadOptions, readWal, type WalEntry } from './reader/read-wal.js';
export type { TailRepair } from './recovery/open-scan.js';
export { type RecoverStateOptions, recoverState } from './recovery/recover-state.js';
export { type OpenReport, type SegmentInfo, Wal } from './wal.js';
