/**
 * Progress of a long phase on stderr: on a terminal a bar redrawn in place (`\r`, at most ten
 * times a second), elsewhere (a log file, CI) one plain line a second. Driven by a timer that
 * reads a counter, so the work itself pays nothing per item.
 */
import type { Output } from './output.js';

export class Progress {
  private timer: NodeJS.Timeout | null = null;
  private readonly started = performance.now();
  private drawn = false;

  constructor(
    private readonly err: Output,
    private readonly tty: boolean,
    private readonly label: string,
    private readonly total: number,
    private readonly done: () => number,
  ) {}

  start(): this {
    this.timer = setInterval(() => this.draw(), this.tty ? 100 : 1000);
    this.timer.unref();
    return this;
  }

  /** Stops; on a terminal the bar is replaced by its final state and a newline. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.tty && this.drawn) {
      this.draw();
      this.err.print('\n');
    }
  }

  private draw(): void {
    const done = this.done();
    const seconds = (performance.now() - this.started) / 1000;
    const rate = seconds > 0 ? done / seconds : 0;
    const eta = rate > 0 ? (this.total - done) / rate : Number.NaN;
    const numbers =
      `${done.toLocaleString('en-US')}/${this.total.toLocaleString('en-US')}  ` +
      `${Math.round(rate).toLocaleString('en-US')}/s  ${clock(seconds)} elapsed` +
      (done < this.total ? `  ETA ${clock(eta)}` : '');
    if (this.tty) {
      const width = 24;
      const filled = this.total > 0 ? Math.min(width, Math.floor((done / this.total) * width)) : width;
      const percent = this.total > 0 ? Math.floor((done / this.total) * 100) : 100;
      this.err.print(
        `\r${this.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(percent).padStart(3)}%  ${numbers}\x1b[K`,
      );
    } else {
      this.err.print(`${this.label}: ${numbers}\n`);
    }
    this.drawn = true;
  }
}

/** 0.42 s, 17.3 s, 1:05, 1:02:03 */
export function clock(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 10) return `${seconds.toFixed(2)} s`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const s = Math.round(seconds);
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return hh > 0 ? `${hh}:${String(mm).padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
}
