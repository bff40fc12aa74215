/**
 * How a follower in another process learns that a log directory may hold more: `fs.watch` on
 * the directory (inotify on Linux: it reports writes to the files in it and names created or
 * removed), and a timer every `pollMs` as the fallback for file systems that send no
 * notification (FUSE, network file systems) or a watch that cannot be set up (inotify limits).
 * A notification only says "look again": the follower always reads the files to see what is
 * there, so a lost or spurious one costs at most a poll interval or a read.
 */
import * as fs from 'node:fs';
import type { FollowSource } from './types.js';

export class DirectoryWatch implements FollowSource {
  private watcher: fs.FSWatcher | null = null;
  private watchFailed = false;
  /** A notification came while nobody waited: the next wait returns at once. */
  private dirty = false;
  private wake: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    readonly dir: string,
    private readonly pollMs: number,
  ) {}

  /** Whatever the files hold: another process cannot see the writer's durable LSN. */
  limit(): number {
    this.watch(); // before the first read, so nothing written after it goes unnoticed
    return Number.POSITIVE_INFINITY;
  }

  changed(): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    this.watch();
    if (this.dirty) {
      this.dirty = false;
      return Promise.resolve(true);
    }
    return new Promise<boolean>((resolve) => {
      const wake = (): void => {
        if (this.timer) clearTimeout(this.timer);
        this.timer = null;
        this.wake = null;
        this.dirty = false;
        resolve(!this.closed);
      };
      this.wake = wake;
      // The timer is what keeps the process alive while a caller waits (the watcher does not).
      this.timer = setTimeout(wake, this.pollMs);
    });
  }

  close(): void {
    this.closed = true;
    this.watcher?.close();
    this.watcher = null;
    this.wake?.();
  }

  /** Whether notifications are coming (false: polling only). */
  get watching(): boolean {
    return this.watcher !== null;
  }

  private watch(): void {
    if (this.watcher || this.watchFailed || this.closed) return;
    try {
      // Not persistent: an abandoned follower must not keep the process alive.
      const watcher = fs.watch(this.dir, { persistent: false }, this.notified);
      watcher.on('error', () => {
        // The directory went away or the watch broke: polling goes on (and reports what it finds).
        watcher.close();
        if (this.watcher === watcher) this.watcher = null;
        this.watchFailed = true;
      });
      this.watcher = watcher;
    } catch {
      this.watchFailed = true; // no inotify here (or no watches left): poll
    }
  }

  private readonly notified = (): void => {
    if (this.wake) this.wake();
    else this.dirty = true;
  };
}
