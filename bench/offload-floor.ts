/**
 * The floor of any log that keeps the disk off the main thread, for `npm run bench:loop`: a
 * worker overwrites a 4 KiB block of a written, fdatasync'd file and fdatasyncs it for each
 * request, then wakes the main thread (`Atomics.notify` → `Atomics.waitAsync`, as ringwal's
 * writer does), which resolves every append made before that request. No encoding, no ring,
 * no records: what is left is the disk, the wake-up each way and a promise per append. The
 * gap between this side and ringwal is ringwal's own; the gap between this side and an idle
 * process is what acknowledging from another thread costs the event loop at all.
 */
import * as fs from 'node:fs';
import { Worker } from 'node:worker_threads';

/** Int32 words of the shared area. */
const REQUEST = 0;
const DONE = 1;
const STOP = 2;

const WORKER_SOURCE = `
const fs = require('node:fs');
const { workerData } = require('node:worker_threads');
const words = new Int32Array(workerData.shared);
const fd = fs.openSync(workerData.file, 'r+');
const block = Buffer.alloc(4096, 7);
let served = 0;
let i = 0;
for (;;) {
  Atomics.wait(words, ${REQUEST}, served);
  if (Atomics.load(words, ${STOP})) break;
  const asked = Atomics.load(words, ${REQUEST});
  fs.writeSync(fd, block, 0, 4096, (i++ % 4096) * 4096);
  fs.fdatasyncSync(fd);
  served = asked;
  Atomics.store(words, ${DONE}, served);
  Atomics.notify(words, ${DONE});
}
fs.closeSync(fd);
`;

export class OffloadFloor {
  private readonly words = new Int32Array(new SharedArrayBuffer(16));
  private readonly worker: Worker;
  /** Resolvers of appends not yet covered by a request, and of those covered by the one in flight. */
  private waiting: (() => void)[] = [];
  private inFlight: (() => void)[] = [];
  private asked = 0;
  private requestQueued = false;

  private constructor(file: string) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { shared: this.words.buffer, file } });
  }

  /** A 16 MiB file, written and fdatasync'd, so the overwrites need no metadata. */
  static open(file: string): OffloadFloor {
    const fd = fs.openSync(file, 'w');
    fs.writeSync(fd, Buffer.alloc(4096 * 4096));
    fs.fdatasyncSync(fd);
    fs.closeSync(fd);
    return new OffloadFloor(file);
  }

  /** The last value appended: kept, so the caller's entry is really built (not optimized away). */
  last: unknown = null;

  append(value: unknown): Promise<void> {
    this.last = value;
    const promise = new Promise<void>((resolve) => this.waiting.push(resolve));
    if (!this.requestQueued && this.inFlight.length === 0) {
      this.requestQueued = true;
      queueMicrotask(this.request);
    }
    return promise;
  }

  /** Asks the worker to commit what is waiting (one request in flight at a time, like a group commit). */
  private readonly request = (): void => {
    this.requestQueued = false;
    if (this.waiting.length === 0) return;
    this.inFlight = this.waiting;
    this.waiting = [];
    this.asked++;
    Atomics.store(this.words, REQUEST, this.asked);
    Atomics.notify(this.words, REQUEST);
    const wait = Atomics.waitAsync(this.words, DONE, this.asked - 1);
    if (wait.async) void wait.value.then(this.served);
    else queueMicrotask(this.served);
  };

  private readonly served = (): void => {
    const done = this.inFlight;
    this.inFlight = [];
    for (const resolve of done) resolve();
    this.request();
  };

  async close(): Promise<void> {
    Atomics.store(this.words, STOP, 1);
    Atomics.add(this.words, REQUEST, 1);
    Atomics.notify(this.words, REQUEST);
    await new Promise((resolve) => this.worker.once('exit', resolve));
  }
}
