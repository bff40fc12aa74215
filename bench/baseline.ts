/**
 * The baseline ringwal must beat: a minimal main-thread group commit. Entries are encoded
 * and collected while an fdatasync is in flight; then one `writev` + `fdatasync` (on libuv's
 * thread pool) commits the whole batch and resolves every waiter.
 */
import * as fs from 'node:fs';
import { Packr } from 'msgpackr';

export class MainThreadGroupCommit {
  private readonly packr = new Packr({ useRecords: false });
  private batch: Uint8Array[] = [];
  private waiters: (() => void)[] = [];
  private flushing = false;
  private position = 0;
  private lsn = 0;

  constructor(private readonly fd: number) {}

  append(value: unknown): Promise<number> {
    // msgpackr's default mode returns a view it never writes over again: no copy needed.
    this.batch.push(this.packr.pack(value));
    const lsn = ++this.lsn;
    const promise = new Promise<number>((resolve) => this.waiters.push(() => resolve(lsn)));
    if (!this.flushing) {
      this.flushing = true;
      queueMicrotask(() => this.flush());
    }
    return promise;
  }

  private flush(): void {
    const buffers = this.batch;
    const waiters = this.waiters;
    this.batch = [];
    this.waiters = [];
    fs.writev(this.fd, buffers, this.position, (err, written) => {
      if (err) throw err;
      this.position += written;
      fs.fdatasync(this.fd, (err2) => {
        if (err2) throw err2;
        for (const resolve of waiters) resolve();
        if (this.batch.length > 0) this.flush();
        else this.flushing = false;
      });
    });
  }
}
