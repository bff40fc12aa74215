/**
 * What a worker-thread shipper follows: the log another thread of this process holds, seen
 * through the writer's words of its ring (src/ring/control-reader.ts). The limit is the
 * durable LSN, as for `wal.tail()`; more is noticed by polling that word every `pollMs`
 * (the shipper's `readIntervalMs`, which the follower waits between reads anyway), never by
 * waiting on the ring's notify word, whose one wake-up belongs to the log's own thread.
 *
 * It ends (changed() → false, after which the follower makes a last pass) once the writer has
 * stopped for good, i.e. the log closed, and fails with the writer's sticky error once that is
 * set, or with an error the main thread reports (a writer that died without storing one).
 */
import type { WalError } from '../errors.js';
import type { FollowSource } from '../reader/types.js';
import { ControlReader } from '../ring/control-reader.js';

export class DurableSource {
  private readonly control: ControlReader;
  /** An error the main thread reported for the log (its writer thread died). */
  private failure: Error | null = null;

  constructor(
    readonly dir: string,
    ring: SharedArrayBuffer,
    private readonly pollMs: number,
  ) {
    this.control = new ControlReader(ring);
  }

  durableLsn(): number {
    return this.control.durableLsn();
  }

  /** The log closed cleanly: what is durable is all there will be. */
  ended(): boolean {
    return this.control.writerStopped() && !this.control.writerFailed();
  }

  /** The main thread says the log failed. */
  fail(error: Error): void {
    this.failure ??= error;
  }

  private failed(): WalError | Error | null {
    if (this.control.writerFailed()) return this.control.writerError();
    return this.failure;
  }

  /** A FollowSource for one follower (each run of the shipper has its own). */
  followSource(): FollowSource {
    return {
      dir: this.dir,
      limit: () => this.control.durableLsn(),
      changed: (lsn, signal) => this.changed(lsn, signal),
      close: () => {},
    };
  }

  private async changed(lsn: number, signal: AbortSignal | undefined): Promise<boolean> {
    while (true) {
      if (signal?.aborted) return true; // the follower sees the abort; no poll outlives its run
      const failure = this.failed();
      if (failure) throw failure;
      if (this.control.durableLsn() > lsn) return true;
      if (this.control.writerStopped()) return false;
      await new Promise((resolve) => setTimeout(resolve, this.pollMs));
    }
  }
}
