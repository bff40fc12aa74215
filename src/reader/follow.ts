/**
 * STAND-IN (ship branch only, until main has the real `followRaw`): polls `readWalBatches` and
 * re-encodes each value. Replaced by main's src/reader/follow.ts on merge.
 */
import { pack } from 'msgpackr';
import { ErrorCode, WalError } from '../errors.js';
import { readWalBatches } from './read-wal.js';

export interface RawEntry {
  lsn: number;
  ts: number;
  bytes: Uint8Array;
}
export interface FollowOptions {
  fromLsn?: number;
  pollMs?: number;
  signal?: AbortSignal;
  onDeleted?: (gap: { firstLsn: number; lastLsn: number }) => void;
  maxEntryBytes?: number;
  bufferBytes?: number;
}

export function followRaw(dir: string, options: FollowOptions = {}): Follower {
  return new Follower(
    dir,
    options,
    () => Number.POSITIVE_INFINITY,
    () => false,
  );
}

export class Follower implements AsyncIterable<RawEntry[]> {
  private behind = 0;
  constructor(
    private readonly dir: string,
    private readonly options: FollowOptions,
    private readonly limit: () => number,
    private readonly ended: () => boolean,
  ) {}

  bytesBehind(): number {
    return this.behind;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<RawEntry[]> {
    const { signal, pollMs = 50 } = this.options;
    let next = this.options.fromLsn ?? 0;
    while (!signal?.aborted && !this.ended()) {
      const limit = this.limit();
      let got = false;
      for await (const batch of readWalBatches(this.dir, { fromLsn: Math.max(1, next) })) {
        const out: RawEntry[] = [];
        for (const e of batch) {
          if (e.lsn > limit) break;
          if (next > 0 && e.lsn !== next) {
            const gap = { firstLsn: next, lastLsn: e.lsn - 1 };
            if (this.options.onDeleted) this.options.onDeleted(gap);
            else throw new WalError(ErrorCode.SEGMENT_DELETED, `entries ${next}..${e.lsn - 1} were deleted`);
          }
          out.push({ lsn: e.lsn, ts: e.ts, bytes: pack(e.value) });
          next = e.lsn + 1;
        }
        if (out.length > 0) {
          got = true;
          this.behind = out.length * 64;
          yield out;
          this.behind = 0;
        }
        if (signal?.aborted) return;
      }
      if (!got) await new Promise((r) => setTimeout(r, pollMs));
    }
  }
}

/** Stand-in for `wal.tailRaw()`. */
export function tailStandIn(
  wal: { dir: string; durableLsn: number; error: unknown },
  options: FollowOptions = {},
): Follower {
  let closedSeen = false;
  return new Follower(
    wal.dir,
    options,
    () => wal.durableLsn,
    () => {
      try {
        void wal.error;
      } catch {
        closedSeen = true;
      }
      return closedSeen;
    },
  );
}
