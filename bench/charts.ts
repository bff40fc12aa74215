/**
 * The charts of `npm run bench:peers`, as standalone SVG files (no script; any browser or
 * `rsvg-convert` shows them). Drawn with vega-lite 6 + vega 6: a maintained grammar of
 * graphics whose `View.toSVG()` renders in Node with the `'none'` renderer, without a browser
 * or canvas; log scales, grouped bars and legends come with it, so this file only says what
 * to plot. Both live in bench/peers (`npm ci --prefix bench/peers`), not in ringwal's
 * dependencies; without them the run writes its tables and skips the charts.
 *
 * Labels get a generous `labelLimit`: without a canvas, vega estimates text widths high and
 * would cut them short.
 *
 * They are ES modules with top-level await, which `require()` cannot load: they are resolved
 * from bench/peers and imported.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { PEERS_PACKAGE } from './child-run.js';
import type { CaseResult } from './peer-measure.js';
import type { Row } from './peers.js';

interface Vega {
  parse(spec: unknown): unknown;
  View: new (runtime: unknown, options: { renderer: 'none' }) => { toSVG(): Promise<string> };
}
interface VegaLite {
  compile(spec: unknown): { spec: unknown };
}

/** An ES-module peer from bench/peers, or null when it is not installed. */
async function importPeer<T>(name: string): Promise<T | null> {
  try {
    return (await import(pathToFileURL(createRequire(PEERS_PACKAGE).resolve(name)).href)) as T;
  } catch {
    return null;
  }
}

const isResult = (o: Row['outcome']): o is CaseResult => 'entriesPerSec' in o;
const durability = (row: Row): string => (row.durable.startsWith('yes') ? 'durable' : 'not durable');

const BASE = {
  $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
  background: 'white',
  config: {
    font: 'sans-serif',
    axis: { labelFontSize: 11, titleFontSize: 12, labelLimit: 500 },
    legend: { labelLimit: 500 },
  },
};

/**
 * A horizontal bar on a log axis, drawn from `floor` (a bar from 0 has no place on a log
 * scale, and vega draws none); values below the floor (an event-loop delay of 0) sit on it.
 */
function logBar(field: string, title: string, floor: number): Record<string, unknown> {
  return {
    x: { field, type: 'quantitative', title, scale: { type: 'log', domainMin: floor } },
    x2: { datum: floor },
  };
}
const atLeast = (floor: number, v: number): number => Math.max(floor, v);

function throughputSpec(rows: Row[]): unknown {
  const inFlight: Record<string, number> = { c1: 1, c64: 64, c1024: 1024 };
  const values = rows
    .filter((r) => r.caseId in inFlight && isResult(r.outcome))
    .map((r) => ({
      system: `${r.system}${r.durable.startsWith('yes') ? '' : ' (not durable)'}`,
      durable: durability(r),
      inFlight: inFlight[r.caseId],
      perSec: (r.outcome as CaseResult).entriesPerSec,
    }));
  return {
    ...BASE,
    title: 'Entries per second against writes in flight (closed loop, standard entry; dashed: not durable)',
    width: 560,
    height: 380,
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: {
        field: 'inFlight',
        type: 'quantitative',
        scale: { type: 'log', domain: [1, 1024] },
        axis: { values: [1, 64, 1024] },
        title: 'writes in flight (log)',
      },
      y: { field: 'perSec', type: 'quantitative', scale: { type: 'log' }, title: 'entries/s (log)' },
      color: {
        field: 'system',
        type: 'nominal',
        title: 'system',
        scale: { scheme: 'tableau20' },
        legend: { labelLimit: 500 },
      },
      // Dashed: not durable; said in the title and the labels (the legend's symbols showed no dash).
      strokeDash: { field: 'durable', type: 'nominal', sort: ['durable', 'not durable'], legend: null },
      tooltip: [{ field: 'system' }, { field: 'inFlight' }, { field: 'perSec', format: ',.0f' }],
    },
  };
}

function latencySpec(rows: Row[]): unknown {
  const values = rows
    .filter((r) => r.caseId === 'c64' && isResult(r.outcome))
    .flatMap((r) => {
      const o = r.outcome as CaseResult;
      const system = `${r.system}${r.durable.startsWith('yes') ? '' : ' (not durable)'}`;
      return [
        { system, percentile: 'p50', us: atLeast(1, o.ackP50Us) },
        { system, percentile: 'p99', us: atLeast(1, o.ackP99Us) },
        { system, percentile: 'max', us: atLeast(1, o.ackMaxUs) },
      ];
    });
  return {
    ...BASE,
    title: 'Acknowledgement latency at 64 in flight',
    width: 520,
    data: { values },
    mark: 'bar',
    encoding: {
      y: { field: 'system', type: 'nominal', title: null, sort: null, axis: { labelLimit: 500 } },
      yOffset: { field: 'percentile', sort: ['p50', 'p99', 'max'] },
      ...logBar('us', 'µs from append to acknowledgement (log)', 1),
      color: {
        field: 'percentile',
        type: 'nominal',
        sort: ['p50', 'p99', 'max'],
        scale: { scheme: 'blues' },
      },
    },
  };
}

function mainThreadSpec(rows: Row[]): unknown {
  const rowsAt = rows.filter((r) => r.caseId === 'c1024' && isResult(r.outcome));
  const name = (r: Row) => `${r.system}${r.durable.startsWith('yes') ? '' : ' (not durable)'}`;
  const cpu = rowsAt.map((r) => ({
    system: name(r),
    us: atLeast(0.1, (r.outcome as CaseResult).cpuUsPerEntry),
  }));
  const eld = rowsAt.flatMap((r) => [
    { system: name(r), stat: 'p99', ms: atLeast(0.1, (r.outcome as CaseResult).eldP99Ms) },
    { system: name(r), stat: 'max', ms: atLeast(0.1, (r.outcome as CaseResult).eldMaxMs) },
  ]);
  const y = { field: 'system', type: 'nominal', title: null, sort: null, axis: { labelLimit: 500 } };
  return {
    ...BASE,
    title: 'The main thread at 1024 in flight: its CPU per entry, and how long the event loop waited',
    hconcat: [
      {
        width: 260,
        height: 420,
        data: { values: cpu },
        mark: 'bar',
        encoding: {
          y,
          ...logBar('us', 'main-thread CPU µs per entry (log)', 0.1),
          color: { value: '#4c78a8' },
        },
      },
      {
        width: 260,
        height: 420,
        data: { values: eld },
        mark: 'bar',
        encoding: {
          y: { ...y, axis: null },
          yOffset: { field: 'stat', sort: ['p99', 'max'] },
          ...logBar('ms', 'event-loop delay, ms (log)', 0.1),
          color: {
            field: 'stat',
            type: 'nominal',
            sort: ['p99', 'max'],
            scale: { range: ['#f58518', '#e45756'] },
          },
        },
      },
    ],
  };
}

/** Writes the three charts into `dir`; returns their file names (none without vega). */
export async function writeCharts(rows: Row[], dir: string): Promise<string[]> {
  const vega = await importPeer<Vega>('vega');
  const vegaLite = await importPeer<VegaLite>('vega-lite');
  if (!vega || !vegaLite) {
    console.log('charts skipped: vega and vega-lite are not installed (npm ci --prefix bench/peers)');
    return [];
  }
  const charts: [string, unknown][] = [
    ['peers-throughput.svg', throughputSpec(rows)],
    ['peers-latency-64.svg', latencySpec(rows)],
    ['peers-main-thread-1024.svg', mainThreadSpec(rows)],
  ];
  for (const [file, spec] of charts) {
    const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: 'none' });
    fs.writeFileSync(path.join(dir, file), await view.toSVG());
  }
  return charts.map(([file]) => file);
}
