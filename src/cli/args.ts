/** Parsing and checking the tool's arguments; a bad one is a commander error, which exits 2. */
import { InvalidArgumentError, Option } from 'commander';

/** A parser for an integer option in [min, max]; anything else (a sign, a fraction, a word) is refused. */
export function integerIn(min: number, max: number): (text: string) => number {
  return (text) => {
    const trimmed = text.trim();
    const value = /^\d+$/.test(trimmed) ? Number(trimmed) : Number.NaN;
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new InvalidArgumentError(
        max === Number.MAX_SAFE_INTEGER
          ? `must be an integer >= ${min}`
          : `must be an integer from ${min.toLocaleString('en-US')} to ${max.toLocaleString('en-US')}`,
      );
    }
    return value;
  };
}

/** The largest LSN a log can hold (numbers are safe integers on both sides of the ring). */
export const MAX_LSN = Number.MAX_SAFE_INTEGER;

export function jsonOption(what: string): Option {
  return new Option('--json', `print ${what} as JSON on stdout, and nothing else`);
}

export function threadsOption(description: string): Option {
  return new Option('--threads <n>', description).argParser(integerIn(1, 256));
}
