/**
 * The commit-latency histogram's bookkeeping (src/wal/commit-latency.ts): publish groups
 * acknowledged whole, in part and several at once each count every entry exactly once, with
 * the time since its group's first append.
 */
import { describe, expect, it } from 'vitest';
import { CommitLatency } from '../../src/wal/commit-latency.js';

const total = (h: CommitLatency) => h.snapshot().commitLatency.reduce((n, b) => n + b.count, 0);
/** Entries counted with a latency of at least `ms` (bucket bounds above it). */
const atLeast = (h: CommitLatency, ms: number) =>
  h
    .snapshot()
    .commitLatency.filter((b) => b.underUs > ms * 1000)
    .reduce((n, b) => n + b.count, 0);

describe('CommitLatency', () => {
  it('counts each entry of a group once it is acknowledged, with its group’s time', () => {
    const h = new CommitLatency(100); // the log reopened at LSN 100
    const long = performance.now() - 300;
    h.published(110, long); // entries 101-110, first appended 300 ms ago
    h.published(112, performance.now()); // 111-112
    expect(total(h)).toBe(0);
    h.acknowledgedUpTo(105); // half of the first group
    expect(h.snapshot().acknowledged).toBe(5);
    h.acknowledgedUpTo(105); // nothing new
    expect(h.snapshot().acknowledged).toBe(5);
    h.acknowledgedUpTo(112); // the rest of the first, all of the second
    const s = h.snapshot();
    expect(s.acknowledged).toBe(12);
    expect(total(h)).toBe(12);
    expect(atLeast(h, 300)).toBeGreaterThanOrEqual(10); // the first group's entries
    expect(s.commitLatencyMsMax).toBeGreaterThanOrEqual(300);
    expect(s.commitLatencyMsTotal).toBeGreaterThanOrEqual(10 * 300);
  });

  it('ignores acknowledgements of nothing published and forgets groups of a failed log', () => {
    const h = new CommitLatency(0);
    h.acknowledgedUpTo(50);
    expect(h.snapshot().acknowledged).toBe(0);
    h.published(3, performance.now());
    h.dropAll();
    h.acknowledgedUpTo(3);
    expect(total(h)).toBe(0);
  });

  it('keeps up over many groups (compaction keeps the order)', () => {
    const h = new CommitLatency(0);
    let lsn = 0;
    for (let g = 0; g < 5000; g++) {
      lsn += 1 + (g % 7);
      h.published(lsn, performance.now());
      if (g % 3 === 0) h.acknowledgedUpTo(lsn - 2);
    }
    h.acknowledgedUpTo(lsn);
    expect(h.snapshot().acknowledged).toBe(lsn);
    expect(total(h)).toBe(lsn);
  });
});
