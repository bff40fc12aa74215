/**
 * Each configuration of a system benchmark runs in a process of its own (one configuration's
 * JIT and GC state disturbed the next one's by up to 1.7x when they shared a process;
 * docs/BENCHMARKS.md). The parent starts `node <script> --child NAME ...args`; the child
 * prints its result as the last line of stdout, as JSON.
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout the benchmarks run from (they run compiled, from dist/bench/). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The peers the benchmarks compare against: their own package, `npm ci --prefix bench/peers`. */
export const PEERS_PACKAGE = path.join(REPO_ROOT, 'bench', 'peers', 'package.json');

/** A peer package from bench/peers, or null when it is not installed. */
export function requirePeer<T>(name: string): T | null {
  try {
    return createRequire(PEERS_PACKAGE)(name) as T;
  } catch {
    return null;
  }
}

/** A numeric or string command-line argument `--name value`. */
export function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

/** Runs `script` as a child measuring configuration `name`, and returns what it printed last. */
export function runChild<T>(script: string, name: string, args: readonly string[]): T {
  const out = execFileSync(process.execPath, [script, '--child', name, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(out.trim().split('\n').at(-1)!) as T;
}

export function medianOf(xs: readonly number[]): number {
  return [...xs].sort((a, b) => a - b)[xs.length >> 1];
}

/** `n` with thousands separators and `digits` decimals. */
export function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
