/**
 * Exit codes and the one-line error of the `ringwal` tool. Every failure reaches the user as
 * one line on stderr, `ringwal: <what>: <why>`, with the WalError code when there is one, and
 * never as a stack trace (set RINGWAL_DEBUG=1 to get one for a bug report).
 */
import { ErrorCode, WalError } from '../errors.js';

/** Exit codes, as grep and diff use them: 0 yes/clean, 1 no/damage found, 2 could not tell. */
export const EXIT = {
  OK: 0,
  /** A negative answer: verify found damage, a read met WAL_CORRUPT, state has no such key, bench's check failed. */
  FOUND: 1,
  /** Bad arguments, a directory that cannot be read or is not a log, a log locked by another process, any I/O error. */
  USAGE_OR_IO: 2,
} as const;

/** A failure the tool words itself: `why` is the whole reason, `exitCode` what the process exits with. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.USAGE_OR_IO,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** A bad argument found after commander parsed them (--from after --to...): exit 2. */
export function usageError(message: string): CliError {
  return new CliError(message, EXIT.USAGE_OR_IO);
}

/** The exit code an error from a command means. */
export function exitCodeOf(error: unknown): number {
  if (error instanceof CliError) return error.exitCode;
  if (error instanceof WalError && error.code === ErrorCode.CORRUPT) return EXIT.FOUND;
  return EXIT.USAGE_OR_IO;
}

/** The `<why>` of an error: one line, the WalError code in front of a WalError's message. */
export function reasonOf(error: unknown): string {
  let text: string;
  if (error instanceof CliError) text = error.message;
  else if (error instanceof WalError) text = `${error.code}: ${error.message}`;
  else if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    text =
      typeof code === 'string' && !error.message.startsWith(code)
        ? `${code}: ${error.message}`
        : error.message;
  } else text = String(error);
  return oneLine(text);
}

/** Newlines and runs of spaces folded, so an error is exactly one line. */
export function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}
