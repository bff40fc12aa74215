import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';

/** Compiles src/ and workers/ into dist/ so worker threads and child processes can load them. */
export default function setup(): void {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { stdio: 'inherit' });
}
