import { type ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

/** Starts a fixture script under the same Node as the tests. */
export function startFixture(name: string, args: string[]): ChildProcess {
  return spawn(process.execPath, [path.join(FIXTURES, name), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Resolves with the exit code (or signal) once the child has exited. */
export function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/** Collects stdout lines as they arrive. */
export function lines(child: ChildProcess, onLine: (line: string) => void): void {
  let rest = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    rest += chunk;
    let nl = rest.indexOf('\n');
    while (nl >= 0) {
      onLine(rest.slice(0, nl));
      rest = rest.slice(nl + 1);
      nl = rest.indexOf('\n');
    }
  });
}

export function stderrOf(child: ChildProcess): () => string {
  let text = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    text += chunk;
  });
  return () => text;
}
