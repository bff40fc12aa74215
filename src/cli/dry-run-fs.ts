/**
 * A file system (the seam in src/fs.ts) that reads the real files and changes none of them,
 * so that `ringwal repair --dry-run` can run the very code open runs on a log
 * (`recoverOnOpen`, `resumeCheckpoint`) and report exactly what it would cut, copy and rename.
 *
 * Reads go to the disk. Every change is recorded, not made: a file opened for writing gets a
 * descriptor that takes writes and forgets them, a file opened 'r+' is opened read-only,
 * truncations and syncs do nothing, renames and removals change only this object's view of
 * the directory (`existsSync`, `readdirSync`), so the code sees the names it would have made.
 */
import * as path from 'node:path';
import { type FileSystem, nodeFs } from '../fs.js';

/** Descriptors of files this object pretends to create; real descriptors are small integers. */
const FIRST_PRETEND_FD = 1 << 30;

export class DryRunFileSystem implements FileSystem {
  /** What would have been done, in order, for a person to read. */
  readonly changes: string[] = [];
  private readonly gone = new Set<string>();
  private readonly made = new Set<string>();
  private readonly pretend = new Map<number, string>();
  private readonly real = new Map<number, string>();
  private nextPretend = FIRST_PRETEND_FD;

  openSync(file: string, flags: string, mode?: number): number {
    if (flags === 'w' || flags === 'wx') {
      if (flags === 'wx' && this.existsSync(file)) {
        throw Object.assign(new Error(`EEXIST: file already exists, open '${file}'`), {
          code: 'EEXIST',
          syscall: 'open',
          path: file,
        });
      }
      const fd = this.nextPretend++;
      this.pretend.set(fd, file);
      this.gone.delete(file);
      this.made.add(file);
      return fd;
    }
    if (this.gone.has(file)) {
      throw Object.assign(new Error(`ENOENT: no such file or directory, open '${file}'`), {
        code: 'ENOENT',
        syscall: 'open',
        path: file,
      });
    }
    const fd = nodeFs.openSync(file, 'r', mode);
    this.real.set(fd, file);
    return fd;
  }

  closeSync(fd: number): void {
    if (this.pretend.delete(fd)) return;
    this.real.delete(fd);
    nodeFs.closeSync(fd);
  }

  writevSync(fd: number, buffers: readonly NodeJS.ArrayBufferView[], position: number): number {
    const bytes = buffers.reduce((n, b) => n + b.byteLength, 0);
    this.changes.push(`write ${bytes} bytes to ${this.name(fd)} at offset ${position}`);
    return bytes;
  }

  readSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number {
    if (this.pretend.has(fd)) return 0;
    return nodeFs.readSync(fd, buffer, offset, length, position);
  }

  fdatasyncSync(_fd: number): void {}

  fsyncSync(_fd: number): void {}

  ftruncateSync(fd: number, length: number): void {
    this.changes.push(`truncate ${this.name(fd)} to ${length} bytes`);
  }

  fstatSize(fd: number): number {
    return this.pretend.has(fd) ? 0 : nodeFs.fstatSize(fd);
  }

  renameSync(from: string, to: string): void {
    this.changes.push(`rename ${path.basename(from)} to ${path.basename(to)}`);
    this.gone.add(from);
    this.made.delete(from);
    this.gone.delete(to);
    this.made.add(to);
  }

  unlinkSync(file: string): void {
    this.changes.push(`remove ${path.basename(file)}`);
    this.gone.add(file);
    this.made.delete(file);
  }

  readdirSync(dir: string): string[] {
    const names = new Set(nodeFs.readdirSync(dir).filter((n) => !this.gone.has(path.join(dir, n))));
    for (const file of this.made) if (path.dirname(file) === dir) names.add(path.basename(file));
    return [...names];
  }

  mkdirSync(dir: string): void {
    this.changes.push(`create directory ${dir}`);
  }

  existsSync(file: string): boolean {
    if (this.made.has(file)) return true;
    if (this.gone.has(file)) return false;
    return nodeFs.existsSync(file);
  }

  private name(fd: number): string {
    return path.basename(this.pretend.get(fd) ?? this.real.get(fd) ?? `descriptor ${fd}`);
  }
}
