/**
 * The standard benchmark entry (issue #2), ~141 bytes encoded:
 * `{ op: 'set', key: 'user:<i>', value: { id, name: <~40 chars>, score: <float>, tags: [3 short strings] }, ts }`.
 * `ringwal bench` appends it; the benchmarks in bench/ import it from here (bench/entry.ts),
 * since bench/ is not in the package.
 */
const NAMES = ['Ada Lovelace', 'Grace Hopper', 'Edsger Dijkstra', 'Barbara Liskov', 'Ken Thompson'];

export function standardEntry(i: number): unknown {
  return {
    op: 'set',
    key: `user:${i}`,
    value: {
      id: i,
      name: `${NAMES[i % NAMES.length]} of the benchmark cohort #${i % 1000}`,
      score: i * 1.618,
      tags: ['alpha', 'beta', `t${i % 7}`],
    },
    ts: Date.now(),
  };
}
