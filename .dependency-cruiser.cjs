/**
 * The import rules of ringwal's source (docs/ARCHITECTURE.md): no file imports another in a
 * loop, src/ never imports workers/, and imports point one way along the data flow, from the
 * facade down to the byte format. Checked in CI: `npm run deps`.
 *
 * Each layer may import its own files and the layers below it, never a layer above.
 */
const LAYERS = [
  // 0. Shared leaves: errors, options, the file-system seam, metrics' slot layout, worker paths, locks, the piscina helper.
  ['^src/(errors|options|fs|metrics|worker-path|pool)\\.ts$', '^src/lock/'],
  // 1. Bytes: the on-disk format and its parser; msgpack encoding.
  ['^src/format/', '^src/encoding\\.ts$'],
  // 2. The shared ring and its control words; segment files on disk.
  ['^src/ring/', '^src/segment/'],
  // 3. Reading segments (the walk, the corruption policy, the readers).
  ['^src/reader/'],
  // 4. What is built on reading: recovery on open, the key-value rebuild.
  ['^src/recovery/', '^src/kv/'],
  // 5. The writer thread's logic.
  ['^src/writer/'],
  // 6. The facade and what the main thread runs.
  ['^src/wal(\\.ts$|/)', '^src/(open|exit-flush|durability)\\.ts$'],
  // 7. The package's faces: the main export and the subpath exports (integrations).
  ['^src/(index|prometheus|pino|jetstream)\\.ts$', '^src/jetstream/'],
  // 8. The `ringwal` command-line tool (bin and `ringwal/cli`): on top of everything, imported by nothing.
  ['^src/cli/'],
];

const above = (layer) => LAYERS.slice(layer + 1).flat();

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Files that import each other in a loop cannot be understood (or changed) one at a time.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'nothing-imports-the-cli',
      severity: 'error',
      comment:
        'src/cli is the command-line tool, built on the library; the library (src/ outside src/cli, workers/) never imports it.',
      from: { path: '^(src|workers)/', pathNot: '^src/cli/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'src-not-to-workers',
      severity: 'error',
      comment: 'src/ only resolves worker paths (src/worker-path.ts); it never imports a worker shell.',
      from: { path: '^src/' },
      to: { path: '^workers/' },
    },
    ...LAYERS.slice(0, -1).map((paths, layer) => ({
      name: `layer-${layer}-imports-only-below`,
      severity: 'error',
      comment: `layer ${layer} (${paths.join(', ')}) must not import a layer above it`,
      from: { path: paths },
      to: { path: above(layer) },
    })),
    {
      name: 'every-source-in-a-layer',
      severity: 'error',
      comment: 'A new file under src/ must be placed in a layer above (so its imports are checked).',
      from: { path: '^src/', pathNot: LAYERS.flat() },
      to: {},
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
