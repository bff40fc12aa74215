/** ringwal's public API. */
export { ErrorCode, WalError } from './errors.js';
export { type RecoverStateOptions, recoverState } from './kv/recover-state.js';
export type { WalMetrics } from './metrics.js';
export { openWal } from './open.js';
export type { RetentionOptions, SyncMode, WalOptions } from './options.js';
export type { CorruptionHandler, CorruptionReport, RecoveryMode } from './reader/policy.js';
export { type ReadOptions, readWal, readWalBatches, type WalEntry } from './reader/read-wal.js';
export type { DeletedRange, FollowOptions } from './reader/types.js';
export { type RecoveryReport, type SegmentInfo, Wal } from './wal.js';
