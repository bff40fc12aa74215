/**
 * Where the worker entry files are. `src/` never imports `workers/`; it only resolves their
 * compiled paths. Node cannot start a `.ts` file as a worker, so when this module runs from
 * source (tests under vitest) the workers are taken from the build in `dist/`, which the
 * test setup compiles first.
 */
export function workerUrl(name: 'writer' | 'replay' | 'read-range' | 'shipper'): URL {
  const fromSource = import.meta.url.endsWith('.ts');
  return new URL(fromSource ? `../dist/workers/${name}.js` : `../workers/${name}.js`, import.meta.url);
}
