/**
 * Acknowledgement groups: promises waiting for an LSN to be acknowledged, settled in LSN
 * order. The writer never touches a promise: the main thread reads the published LSN and
 * settles everything up to it here. One failure settles everything pending the same way.
 *
 * Only the resolve function of each promise is kept: a failure resolves them all with one
 * rejected promise, which they adopt. That saves storing a second function per entry.
 */

export type Resolve = (lsn: number | PromiseLike<number>) => void;

export class PendingAcks {
  // Parallel arrays from `head`, sorted by LSN; appends arrive in order, so adding is a push.
  private lsns: number[] = [];
  private resolves: Resolve[] = [];
  private head = 0;

  get size(): number {
    return this.lsns.length - this.head;
  }

  /** Smallest LSN waited for, or Infinity. */
  get lowest(): number {
    return this.head < this.lsns.length ? this.lsns[this.head] : Number.POSITIVE_INFINITY;
  }

  add(lsn: number, resolve: Resolve): void {
    const lsns = this.lsns;
    if (lsns.length === this.head || lsns[lsns.length - 1] <= lsn) {
      lsns.push(lsn);
      this.resolves.push(resolve);
      return;
    }
    let at = lsns.length;
    while (at > this.head && lsns[at - 1] > lsn) at--;
    lsns.splice(at, 0, lsn);
    this.resolves.splice(at, 0, resolve);
  }

  /** Resolves every waiter for an LSN at or below `lsn`, in order, with its LSN. */
  resolveUpTo(lsn: number): void {
    const { lsns, resolves } = this;
    let head = this.head;
    while (head < lsns.length && lsns[head] <= lsn) {
      resolves[head](lsns[head]);
      head++;
    }
    this.head = head;
    this.compact();
  }

  rejectAll(error: unknown): void {
    if (this.size === 0) return;
    const rejected = Promise.reject(error);
    rejected.catch(() => {}); // handled: each waiter's promise adopts it and rejects
    const resolves = this.resolves;
    const end = this.lsns.length;
    for (let i = this.head; i < end; i++) resolves[i](rejected);
    this.lsns = [];
    this.resolves = [];
    this.head = 0;
  }

  private compact(): void {
    if (this.head === this.lsns.length) {
      this.lsns.length = 0;
      this.resolves.length = 0;
      this.head = 0;
    } else if (this.head > 4096 && this.head * 2 > this.lsns.length) {
      this.lsns = this.lsns.slice(this.head);
      this.resolves = this.resolves.slice(this.head);
      this.head = 0;
    }
  }
}

/**
 * Appends, acknowledged in groups: the entries appended between two publishes share one
 * promise, settled once the last of them is acknowledged, and each `append()` gets
 * `group.then(next)`. That saves a promise executor and its two resolving functions per
 * entry. Reactions to one promise run in the order they were added, and groups settle in LSN
 * order, so `next` hands each entry its own LSN from a queue of the LSNs joined (a queue, not
 * a counter: entries appended without a promise have LSNs in between).
 */
export class AppendAcks {
  /** Closed groups, by their last LSN. */
  private readonly closed = new PendingAcks();
  /** The group being filled (not yet published), or null. */
  private open: Promise<number> | null = null;
  private openResolve: Resolve = noop;
  /** LSN of the last entry in the open group. */
  private openEnd = 0;
  /** The group the last entry joined. */
  private joined: Promise<number> = Promise.resolve(0);
  /** LSNs of entries whose reaction has not run yet, in LSN order, from `head`. */
  private lsns: number[] = [];
  private head = 0;
  private parked: Resolve = noop;
  private readonly park = (resolve: Resolve): void => {
    this.parked = resolve;
  };

  /** Entries joined whose promise has not settled yet. */
  get size(): number {
    return this.lsns.length - this.head;
  }

  /** Whether a group is open or waits to be settled. */
  get waiting(): boolean {
    return this.open !== null || this.closed.size > 0;
  }

  /** Entry `lsn` joins the open group, opening one if none is. */
  join(lsn: number): void {
    let group = this.open;
    if (group === null) {
      group = this.open = new Promise<number>(this.park);
      this.openResolve = this.parked;
    }
    this.openEnd = lsn;
    this.lsns.push(lsn);
    this.joined = group;
  }

  /** The promise of the entry that joined last: it resolves with that entry's LSN. */
  promiseOfLast(): Promise<number> {
    return this.joined.then(this.next);
  }

  /** Closes the open group: call as it is published, so no group waits on unpublished entries. */
  close(): void {
    if (this.open === null) return;
    this.closed.add(this.openEnd, this.openResolve);
    this.open = null;
  }

  /** Settles every closed group whose last LSN is at or below `lsn`. */
  resolveUpTo(lsn: number): void {
    this.closed.resolveUpTo(lsn);
  }

  /** Rejects every group, the open one included. */
  rejectAll(error: unknown): void {
    this.close();
    this.closed.rejectAll(error);
  }

  private readonly next = (): number => {
    const lsns = this.lsns;
    const lsn = lsns[this.head++];
    if (this.head === lsns.length) {
      lsns.length = 0;
      this.head = 0;
    } else if (this.head > 4096 && this.head * 2 > lsns.length) {
      this.lsns = lsns.slice(this.head);
      this.head = 0;
    }
    return lsn;
  };
}

function noop(): void {}
