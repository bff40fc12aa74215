/**
 * `ringwal/prometheus` against a real prom-client registry (issue #18, item 3): what a scrape
 * returns, parsed back, equals `wal.metrics()`; the fsync, commit-latency and group-commit
 * histograms' buckets are cumulative and their counts are the fsyncs, entries and commits;
 * two logs on one registry are told apart by labels; and importing `ringwal` alone never loads prom-client.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { ErrorCode, openWal, type Wal } from '../../src/index.js';
import { registerWalMetrics, type WalMetricsOptions } from '../../src/prometheus.js';
import { tempDirs } from '../helpers/tmp.js';

const tmp = tempDirs();
afterAll(() => tmp.removeAll());

/** `name{labels} value` lines of a scrape, as [name, labels, value]. */
function parse(text: string): Array<{ name: string; labels: Record<string, string>; value: number }> {
  const out = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unparsable scrape line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (m[2] ?? '').match(/[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"/g) ?? []) {
      const eq = pair.indexOf('=');
      labels[pair.slice(0, eq)] = JSON.parse(pair.slice(eq + 1));
    }
    out.push({ name: m[1], labels, value: m[3] === '+Inf' ? Number.POSITIVE_INFINITY : Number(m[3]) });
  }
  return out;
}

async function busyLog(entries: number): Promise<Wal> {
  const wal = await openWal(tmp.dir('ringwal-prom-'), { segmentBytes: 64 * 1024 });
  const pending: Promise<number>[] = [];
  for (let i = 0; i < entries; i++) pending.push(wal.append({ i, pad: 'x'.repeat(100) }));
  await Promise.all(pending);
  await wal.sync();
  return wal;
}

describe('registerWalMetrics', () => {
  it('exposes every counter and gauge of metrics() and a cumulative fsync histogram at scrape time', async () => {
    const wal = await busyLog(3000);
    // Closed first: the writer's counters may still move a batch after the last ack (a
    // rotation after the segment filled); metrics() and the scrape stay readable after close.
    await wal.close();
    const registry = new Registry();
    registerWalMetrics(wal, registry);
    const samples = parse(await registry.metrics());
    const m = wal.metrics();
    const value = (name: string) => samples.find((s) => s.name === `ringwal_${name}`)?.value;
    expect(value('appends_total')).toBe(m.appends);
    expect(value('appended_bytes_total')).toBe(m.appendedBytes);
    expect(value('group_commits_total')).toBe(m.writes);
    expect(value('written_bytes_total')).toBe(m.bytesWritten);
    expect(value('rotations_total')).toBe(m.rotations);
    expect(m.rotations).toBeGreaterThan(0);
    expect(value('zero_filled_bytes_total')).toBe(m.zeroFilledBytes);
    expect(value('durable_lsn')).toBe(3000);
    expect(value('last_lsn')).toBe(3000);
    expect(value('ring_capacity_bytes')).toBe(m.ringCapacity);
    expect(value('pending_acks')).toBe(0);
    expect(value('failed')).toBe(0);

    const buckets = samples.filter((s) => s.name === 'ringwal_fsync_duration_seconds_bucket');
    expect(buckets.length).toBe(m.syncLatency.length);
    for (let k = 1; k < buckets.length; k++)
      expect(buckets[k].value).toBeGreaterThanOrEqual(buckets[k - 1].value);
    expect(buckets.at(-1)!.labels.le).toBe('+Inf');
    expect(buckets.at(-1)!.value).toBe(m.syncs);
    expect(buckets[0].labels.le).toBe('0.000064');
    expect(value('fsync_duration_seconds_count')).toBe(m.syncs);
    expect(value('fsync_duration_seconds_sum')).toBeCloseTo(m.syncMsTotal / 1000, 9);
    expect(m.syncs).toBeGreaterThan(0);
    // The commit-latency and group-commit size histograms, the same way.
    const histograms: Array<[string, number, number, number]> = [
      ['commit_duration_seconds', m.commitLatency.length, m.acknowledged, m.commitLatencyMsTotal / 1000],
      ['group_commit_entries', m.batchEntries.length, m.writes, m.entriesWritten],
      ['group_commit_bytes', m.batchBytes.length, m.writes, m.bytesWritten],
    ];
    for (const [name, length, count, sum] of histograms) {
      const series = samples.filter((s) => s.name === `ringwal_${name}_bucket`);
      expect(series.length, name).toBe(length);
      for (let k = 1; k < series.length; k++)
        expect(series[k].value, name).toBeGreaterThanOrEqual(series[k - 1].value);
      expect(series.at(-1)!.labels.le, name).toBe('+Inf');
      expect(series.at(-1)!.value, name).toBe(count);
      expect(value(`${name}_count`), name).toBe(count);
      expect(value(`${name}_sum`), name).toBeCloseTo(sum, 9);
    }
    expect(m.acknowledged).toBe(3000);
    expect(m.entriesWritten).toBe(3000);
    expect(samples.find((s) => s.name === 'ringwal_group_commit_entries_bucket')!.labels.le).toBe('1');
    const text = await registry.metrics();
    expect(text).toContain('# TYPE ringwal_appends_total counter');
    expect(text).toContain('# TYPE ringwal_commit_duration_seconds histogram');
    expect(text).toContain('# TYPE ringwal_fsync_duration_seconds histogram');
  });

  it('counts the segments of an open log and their bytes', async () => {
    // One segment of the default 64 MiB: nothing rotates while the test looks.
    const wal = await openWal(tmp.dir('ringwal-prom-'));
    for (let i = 0; i < 10; i++) await wal.append({ i });
    const registry = new Registry();
    registerWalMetrics(wal, registry);
    const samples = parse(await registry.metrics());
    const segments = await wal.segments();
    expect(samples.find((s) => s.name === 'ringwal_segments')?.value).toBe(1);
    expect(samples.find((s) => s.name === 'ringwal_segment_bytes')?.value).toBe(segments[0].bytes);
    await wal.close();
  });

  it('tells two logs on one registry apart by their labels, and refuses the same labels twice', async () => {
    const [a, b] = [await busyLog(100), await busyLog(250)];
    await a.close();
    await b.close();
    const registry = new Registry();
    registerWalMetrics(a, registry, { labels: { log: 'orders' } });
    const removeB = registerWalMetrics(b, registry, { labels: { log: 'sessions' } });
    expect(() => registerWalMetrics(b, registry, { labels: { log: 'orders' } })).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_OPTION }),
    );
    let appends = parse(await registry.metrics()).filter((s) => s.name === 'ringwal_appends_total');
    expect(appends).toEqual([
      { name: 'ringwal_appends_total', labels: { log: 'orders' }, value: 100 },
      { name: 'ringwal_appends_total', labels: { log: 'sessions' }, value: 250 },
    ]);
    const counts = parse(await registry.metrics()).filter(
      (s) => s.name === 'ringwal_fsync_duration_seconds_count',
    );
    expect(counts.map((s) => s.value)).toEqual([a.metrics().syncs, b.metrics().syncs]);
    const acknowledged = parse(await registry.metrics()).filter(
      (s) => s.name === 'ringwal_commit_duration_seconds_count',
    );
    expect(acknowledged).toEqual([
      { name: 'ringwal_commit_duration_seconds_count', labels: { log: 'orders' }, value: 100 },
      { name: 'ringwal_commit_duration_seconds_count', labels: { log: 'sessions' }, value: 250 },
    ]);
    removeB();
    appends = parse(await registry.metrics()).filter((s) => s.name === 'ringwal_appends_total');
    expect(appends.map((s) => s.labels.log)).toEqual(['orders']);
  });

  it('refuses a bad prefix or label with WAL_INVALID_OPTION', async () => {
    const wal = await busyLog(1);
    for (const options of [
      { prefix: '9x' },
      { labels: { le: '1' } },
      { labels: { 'a-b': 'x' } },
    ] as WalMetricsOptions[]) {
      expect(() => registerWalMetrics(wal, new Registry(), options)).toThrow(
        expect.objectContaining({ code: ErrorCode.INVALID_OPTION }),
      );
    }
    await wal.close();
  });

  it('is not loaded by importing ringwal: prom-client stays unloaded', () => {
    const index = path.join(
      path.dirname(fileURLToPath(import.meta.url)),
      '..',
      '..',
      'dist',
      'src',
      'index.js',
    );
    const script = `import(${JSON.stringify(index)}).then(() => {
      const loaded = Object.keys(require.cache).filter((k) => k.includes('prom-client'));
      console.log(JSON.stringify(loaded));
    });`;
    const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect(child.stderr).toBe('');
    expect(JSON.parse(child.stdout)).toEqual([]);
  });
});
