/** Latency percentiles and a text histogram with log-scale buckets, for `ringwal bench`. */

export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/** Nearest-rank percentiles of `sorted` (ascending). */
export function percentiles(sorted: ArrayLike<number>): Percentiles {
  const at = (p: number) =>
    sorted.length === 0
      ? 0
      : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999), max: at(1) };
}

export interface Bucket {
  /** From this many ms (inclusive)... */
  fromMs: number;
  /** ...to this many (exclusive). */
  toMs: number;
  count: number;
}

/**
 * Buckets doubling in width (..., 0.125-0.25, 0.25-0.5, 0.5-1 ms, ...), from the one holding
 * the smallest value to the one holding the largest; everything under 2^-10 ms (~1 µs)
 * shares the first.
 */
export function logHistogram(sorted: ArrayLike<number>): Bucket[] {
  if (sorted.length === 0) return [];
  const floorExp = (ms: number) => Math.floor(Math.log2(Math.max(ms, 2 ** -10)));
  const low = floorExp(sorted[0]);
  const high = floorExp(sorted[sorted.length - 1]);
  const buckets: Bucket[] = [];
  for (let e = low; e <= high; e++) buckets.push({ fromMs: 2 ** e, toMs: 2 ** (e + 1), count: 0 });
  if (low === -10) buckets[0].fromMs = 0; // values under 2^-10 ms share the first bucket
  for (let i = 0; i < sorted.length; i++) buckets[floorExp(sorted[i]) - low].count++;
  return buckets;
}

/** The histogram as text lines: range, a bar of '#' scaled to the fullest bucket, the count and share. */
export function histogramLines(buckets: readonly Bucket[], total: number, barWidth = 40): string[] {
  const most = Math.max(1, ...buckets.map((b) => b.count));
  const label = (b: Bucket) => `${ms(b.fromMs)} - ${ms(b.toMs)} ms`;
  const width = Math.max(...buckets.map((b) => label(b).length));
  const countWidth = Math.max(...buckets.map((b) => b.count.toLocaleString('en-US').length));
  return buckets.map((b) => {
    const bar = '#'.repeat(b.count === 0 ? 0 : Math.max(1, Math.round((b.count / most) * barWidth)));
    const share = `${((b.count / total) * 100).toFixed(1)}%`.padStart(6);
    return `${label(b).padStart(width)}  ${bar.padEnd(barWidth)}  ${b.count.toLocaleString('en-US').padStart(countWidth)} ${share}`;
  });
}

/** A bucket bound: 0.0039, 0.125, 2, 512. */
function ms(value: number): string {
  if (value === 0) return '0';
  return value >= 1 ? String(value) : String(Number(value.toPrecision(2)));
}
