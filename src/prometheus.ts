/**
 * `ringwal/prometheus`: a log's `metrics()` on a prom-client registry, computed at scrape
 * time (nothing on the append path, no timers). prom-client is an optional peer dependency:
 * this module never imports it, it only hands the registry metric objects of prom-client's
 * shape (`name`, `help`, `type`, `get()`); the default registry is looked up only when none
 * is given. Several logs may share a registry and a prefix, told apart by their labels.
 */
import { createRequire } from 'node:module';
import { ErrorCode, invalidOption } from './errors.js';
import type { WalMetrics } from './metrics.js';
import type { Wal } from './wal.js';

/** What this module needs of a prom-client `Registry`. */
export interface PromRegistry {
  registerMetric(metric: never): void;
  getSingleMetric(name: string): unknown;
  removeSingleMetric(name: string): void;
}

export interface WalMetricsOptions {
  /** Prepended to every metric name. Default `'ringwal_'`. */
  prefix?: string;
  /** Labels on every series of this log, e.g. `{ log: 'orders' }`; needed to tell logs apart. */
  labels?: Record<string, string>;
}

type Labels = Record<string, string>;
interface Value {
  labels: Labels;
  value: number;
  metricName?: string;
}
interface Source {
  wal: Wal;
  labels: Labels;
}

/** One metric family: its samples for one log, from one `metrics()` snapshot. */
interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  values(m: WalMetrics, source: Source, name: string): Value[] | Promise<Value[]>;
}

const one =
  (read: (m: WalMetrics, wal: Wal) => number) =>
  (m: WalMetrics, s: Source): Value[] => [{ labels: s.labels, value: read(m, s.wal) }];

/**
 * A histogram family from per-bucket counts (not cumulative; the last bound is Infinity),
 * exposed as Prometheus wants it: cumulative `_bucket{le}` series, `_sum` and `_count`.
 */
function histogram(
  name: string,
  help: string,
  buckets: (m: WalMetrics) => Array<{ le: number; count: number }>,
  sum: (m: WalMetrics) => number,
  count: (m: WalMetrics) => number,
): Family {
  return {
    name,
    type: 'histogram',
    help,
    values: (m, s, metricName) => {
      const out: Value[] = [];
      let cumulative = 0;
      for (const bucket of buckets(m)) {
        cumulative += bucket.count;
        const le = bucket.le === Number.POSITIVE_INFINITY ? '+Inf' : String(bucket.le);
        out.push({ labels: { ...s.labels, le }, value: cumulative, metricName: `${metricName}_bucket` });
      }
      out.push({ labels: s.labels, value: sum(m), metricName: `${metricName}_sum` });
      out.push({ labels: s.labels, value: count(m), metricName: `${metricName}_count` });
      return out;
    },
  };
}

const FAMILIES: Family[] = [
  {
    name: 'appends_total',
    type: 'counter',
    help: 'Entries appended since the log was opened.',
    values: one((m) => m.appends),
  },
  {
    name: 'appended_bytes_total',
    type: 'counter',
    help: 'Encoded bytes of the entries appended.',
    values: one((m) => m.appendedBytes),
  },
  {
    name: 'backpressure_rejections_total',
    type: 'counter',
    help: 'Appends refused with WAL_BACKPRESSURE.',
    values: one((m) => m.backpressureRejections),
  },
  {
    name: 'group_commits_total',
    type: 'counter',
    help: 'Batches the writer wrote (one writev each).',
    values: one((m) => m.writes),
  },
  {
    name: 'written_bytes_total',
    type: 'counter',
    help: 'Record bytes the writer wrote.',
    values: one((m) => m.bytesWritten),
  },
  {
    name: 'rotations_total',
    type: 'counter',
    help: 'Segments sealed and started.',
    values: one((m) => m.rotations),
  },
  {
    name: 'segments_removed_total',
    type: 'counter',
    help: 'Segments deleted by retention.',
    values: one((m) => m.segmentsRemoved),
  },
  {
    name: 'zero_filled_bytes_total',
    type: 'counter',
    help: 'Zeros written ahead of the data (preallocation).',
    values: one((m) => m.zeroFilledBytes),
  },
  {
    name: 'pending_acks',
    type: 'gauge',
    help: 'Appends whose promise has not settled yet.',
    values: one((m) => m.pendingAcks),
  },
  {
    name: 'ring_used_bytes',
    type: 'gauge',
    help: 'Bytes in the shared ring not yet written out.',
    values: one((m) => m.ringBytesInUse),
  },
  {
    name: 'ring_capacity_bytes',
    type: 'gauge',
    help: 'Capacity of the shared ring.',
    values: one((m) => m.ringCapacity),
  },
  {
    name: 'overflow_entries',
    type: 'gauge',
    help: 'Entries waiting outside the full ring.',
    values: one((m) => m.overflowEntries),
  },
  {
    name: 'overflow_bytes',
    type: 'gauge',
    help: 'Encoded bytes waiting outside the full ring.',
    values: one((m) => m.overflowBytes),
  },
  { name: 'last_lsn', type: 'gauge', help: 'LSN of the last entry appended.', values: one((m) => m.lastLsn) },
  {
    name: 'written_lsn',
    type: 'gauge',
    help: 'Highest LSN written to the OS.',
    values: one((m) => m.writtenLsn),
  },
  { name: 'durable_lsn', type: 'gauge', help: "Highest LSN fdatasync'd.", values: one((m) => m.durableLsn) },
  {
    name: 'checkpoint_lsn',
    type: 'gauge',
    help: 'The durable checkpoint.',
    values: one((_, wal) => wal.checkpointLsn),
  },
  {
    name: 'failed',
    type: 'gauge',
    help: '1 once the log has failed with a sticky error (reopen it); 0 while healthy or closed cleanly.',
    values: one((_, wal) => (wal.error && wal.error.code !== ErrorCode.CLOSED ? 1 : 0)),
  },
  histogram(
    'fsync_duration_seconds',
    'fdatasyncs that made appended entries durable, by duration.',
    (m) => m.syncLatency.map((b) => ({ le: b.underUs / 1e6, count: b.count })),
    (m) => m.syncMsTotal / 1000,
    (m) => m.syncs,
  ),
  histogram(
    'commit_duration_seconds',
    'Entries acknowledged, by time from append() to the acknowledgement (timed per publish group).',
    (m) => m.commitLatency.map((b) => ({ le: b.underUs / 1e6, count: b.count })),
    (m) => m.commitLatencyMsTotal / 1000,
    (m) => m.acknowledged,
  ),
  histogram(
    'group_commit_entries',
    'Group commits (one writev each), by the entries they completed.',
    (m) => m.batchEntries.map((b) => ({ le: b.atMost, count: b.count })),
    (m) => m.entriesWritten,
    (m) => m.writes,
  ),
  histogram(
    'group_commit_bytes',
    'Group commits (one writev each), by the record bytes they wrote.',
    (m) => m.batchBytes.map((b) => ({ le: b.atMost, count: b.count })),
    (m) => m.bytesWritten,
    (m) => m.writes,
  ),
  {
    name: 'segments',
    type: 'gauge',
    help: 'Segment files in the log directory.',
    values: async (_, s) => [{ labels: s.labels, value: (await segmentsOf(s.wal))?.length ?? Number.NaN }],
  },
  {
    name: 'segment_bytes',
    type: 'gauge',
    help: 'Bytes of all segment files in the log directory.',
    values: async (_, s) => {
      const segments = await segmentsOf(s.wal);
      return [{ labels: s.labels, value: segments ? segments.reduce((n, x) => n + x.bytes, 0) : Number.NaN }];
    },
  },
];

type Segments = Awaited<ReturnType<Wal['segments']>>;

/**
 * One listing per log per scrape: `segments` and `segment_bytes` are read in the same scrape
 * (the registry asks every metric at once), so the second reuses the first's listing rather
 * than reading the directory and every header again.
 */
const listing = new WeakMap<Wal, { atMs: number; segments: Promise<Segments | null> }>();
const LISTING_REUSE_MS = 1000;

/** The segments, or null when they cannot be listed now (a scrape must not fail for it). */
function segmentsOf(wal: Wal): Promise<Segments | null> {
  const now = performance.now();
  const recent = listing.get(wal);
  if (recent && now - recent.atMs < LISTING_REUSE_MS) return recent.segments;
  const segments = wal.segments().catch(() => null);
  listing.set(wal, { atMs: now, segments });
  return segments;
}

/** The logs registered on each registry under each prefix. */
const registered = new WeakMap<PromRegistry, Map<string, Source[]>>();

/**
 * Exposes `wal.metrics()` on `registry` (prom-client's default registry if omitted), each
 * value read when the registry is scraped. Returns a function that removes this log's series
 * (and the metrics themselves once no log is left under the prefix).
 */
export function registerWalMetrics(
  wal: Wal,
  registry?: PromRegistry,
  options: WalMetricsOptions = {},
): () => void {
  const target = registry ?? defaultRegistry();
  const prefix = options.prefix ?? 'ringwal_';
  if (typeof prefix !== 'string' || !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(prefix)) {
    throw invalidOption(`prefix must be a Prometheus metric name prefix; got ${JSON.stringify(prefix)}`);
  }
  const labels = { ...(options.labels ?? {}) };
  for (const [key, value] of Object.entries(labels)) {
    if (
      !/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(key) ||
      key.startsWith('__') ||
      key === 'le' ||
      typeof value !== 'string'
    ) {
      throw invalidOption(`labels must map label names to strings (not 'le'); got ${JSON.stringify(key)}`);
    }
  }
  let byPrefix = registered.get(target);
  if (!byPrefix) {
    byPrefix = new Map();
    registered.set(target, byPrefix);
  }
  let sources = byPrefix.get(prefix);
  if (!sources) {
    sources = [];
    byPrefix.set(prefix, sources);
    for (const family of FAMILIES)
      target.registerMetric(metricObject(`${prefix}${family.name}`, family, sources) as never);
  }
  const key = labelKey(labels);
  if (sources.some((s) => labelKey(s.labels) === key)) {
    throw invalidOption(
      `a log with labels ${key} is already registered under prefix '${prefix}': give each log its own labels`,
    );
  }
  const source: Source = { wal, labels };
  sources.push(source);
  return () => {
    const at = sources.indexOf(source);
    if (at < 0) return;
    sources.splice(at, 1);
    if (sources.length === 0) {
      byPrefix.delete(prefix);
      for (const family of FAMILIES) target.removeSingleMetric(`${prefix}${family.name}`);
    }
  };
}

/** A metric in the shape prom-client's registry reads: one sample set per log, at scrape time. */
function metricObject(name: string, family: Family, sources: Source[]) {
  return {
    name,
    help: family.help,
    type: family.type,
    aggregator: 'sum',
    async get() {
      const values: Value[] = [];
      for (const source of sources) values.push(...(await family.values(source.wal.metrics(), source, name)));
      return { name, help: family.help, type: family.type, aggregator: 'sum', values };
    },
  };
}

function labelKey(labels: Labels): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));
}

function defaultRegistry(): PromRegistry {
  try {
    return (createRequire(import.meta.url)('prom-client') as { register: PromRegistry }).register;
  } catch (cause) {
    throw invalidOption(`no registry given and prom-client cannot be loaded (${(cause as Error).message})`);
  }
}
