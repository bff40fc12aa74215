/**
 * Promises waiting for an LSN to be acknowledged, settled in LSN order. The writer never
 * touches a promise: the main thread reads the published LSN and settles everything up to
 * it here. One failure settles everything pending the same way.
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
