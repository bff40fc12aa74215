/**
 * Writing the tool's output: text that respects a pipe's backpressure and stops quietly when
 * the reader goes away (`ringwal dump DIR | head -1`), JSON and NDJSON documents, tables, and
 * the one-line error.
 */
import type { Writable } from 'node:stream';
import { oneLine, reasonOf } from './errors.js';

/** The streams and terminal facts the tool runs with; `run()` takes them so tests can run it in-process. */
export interface CliIo {
  stdout: Writable;
  stderr: Writable;
  /** Whether stdout is a terminal (the dump table is cut to its width). */
  stdoutIsTTY: boolean;
  /** Whether stderr is a terminal (bench draws a progress bar there; otherwise one line a second). */
  stderrIsTTY: boolean;
  /** Terminal width, when stdout is one. */
  columns: number | undefined;
  /** RINGWAL_DEBUG set: errors also print their stack. */
  debug: boolean;
  /**
   * The tool is the whole process (the bin): it may handle SIGINT/SIGTERM and exit. False for
   * `run()` called from an application, which keeps its own signal handling.
   */
  ownsProcess: boolean;
}

export function processIo(): CliIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdoutIsTTY: process.stdout.isTTY === true,
    stderrIsTTY: process.stderr.isTTY === true,
    columns: process.stdout.isTTY ? process.stdout.columns : undefined,
    debug: Boolean(process.env.RINGWAL_DEBUG),
    ownsProcess: false,
  };
}

/** Streams whose 'error' event an Output already listens to (once per stream, however often `run()` is called). */
const watched = new WeakMap<Writable, Output>();

/**
 * A stream written with backpressure: `write()` resolves at once while the stream takes more,
 * and after 'drain' when it said it was full. When the reader goes away (EPIPE) or the stream
 * fails, `closed` turns true and later writes are dropped: the caller stops producing, and
 * nothing is printed about a reader that left. Any other write error is kept in `failure`.
 */
export class Output {
  private broken = false;
  /** A write error other than EPIPE (a full disk under a redirect, say). */
  failure: NodeJS.ErrnoException | null = null;

  private constructor(readonly stream: Writable) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      this.broken = true;
      if (e.code !== 'EPIPE' && e.code !== 'ERR_STREAM_DESTROYED') this.failure ??= e;
    });
  }

  static for(stream: Writable): Output {
    let out = watched.get(stream);
    if (!out) {
      out = new Output(stream);
      watched.set(stream, out);
    }
    return out;
  }

  /** True once the reader has gone away or the stream failed: stop producing. */
  get closed(): boolean {
    return this.broken || this.stream.destroyed || this.stream.writableEnded;
  }

  /** Writes `text`; the promise waits only when the stream is full. */
  write(text: string): Promise<void> | undefined {
    if (this.closed) return undefined;
    if (this.stream.write(text)) return undefined;
    return this.drained();
  }

  /** Writes `text` and does not wait (short output: a table, a summary, a progress line). */
  print(text: string): void {
    if (!this.closed) this.stream.write(text);
  }

  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.stream.off('drain', done);
        this.stream.off('error', done);
        this.stream.off('close', done);
        resolve();
      };
      this.stream.on('drain', done);
      this.stream.on('error', done);
      this.stream.on('close', done);
    });
  }
}

/** One JSON document, pretty-printed, as the whole of stdout. */
export function printJson(out: Output, document: unknown): void {
  out.print(`${JSON.stringify(document, null, 2)}\n`);
}

/** `ringwal: <what>: <why>` on stderr; the stack too with RINGWAL_DEBUG. */
export function printError(io: CliIo, what: string, error: unknown): void {
  Output.for(io.stderr).print(`ringwal: ${what}: ${reasonOf(error)}\n`);
  if (io.debug && error instanceof Error && error.stack) io.stderr.write(`${error.stack}\n`);
}

/** A warning line on stderr, in the same shape as an error. */
export function printWarning(io: CliIo, what: string, text: string): void {
  Output.for(io.stderr).print(`ringwal: ${what}: warning: ${oneLine(text)}\n`);
}

export interface Column {
  header: string;
  align?: 'left' | 'right';
}

/** Rows under a header, each column as wide as its widest cell, two spaces apart; no trailing spaces. */
export function formatTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const widths = columns.map((c, i) => Math.max(c.header.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (columns[i].align === 'right' ? cell.padStart(widths[i]) : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return `${[line(columns.map((c) => c.header)), ...rows.map(line)].join('\n')}\n`;
}

/** 1234567 -> "1,234,567". */
export function count(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** Bytes for a person: "812 B", "35.2 KiB", "1.4 GiB". */
export function bytesText(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}
