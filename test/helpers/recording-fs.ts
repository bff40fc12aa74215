import * as path from 'node:path';
import { type FileSystem, nodeFs } from '../../src/fs.js';

export interface FsCall {
  op: string;
  /** File name (basename) the call concerned, when known. */
  file: string;
  bytes?: number;
}

export interface RecordingFs extends FileSystem {
  calls: FsCall[];
  /** Makes the next matching call throw an errno error. */
  failNext(op: 'fdatasyncSync' | 'writevSync' | 'openSync' | 'renameSync', errno: string): void;
}

/** The real file system, recording every call in order (with the file it concerned). */
export function recordingFs(): RecordingFs {
  const names = new Map<number, string>();
  const calls: FsCall[] = [];
  const failures = new Map<string, string>();
  const maybeFail = (op: string) => {
    const errno = failures.get(op);
    if (errno) {
      failures.delete(op);
      throw Object.assign(new Error(`${errno}: injected`), { code: errno, syscall: op });
    }
  };
  const fsys: RecordingFs = {
    ...nodeFs,
    calls,
    failNext(op, errno) {
      failures.set(op, errno);
    },
    openSync(p, flags, mode) {
      maybeFail('openSync');
      const fd = nodeFs.openSync(p, flags, mode);
      names.set(fd, path.basename(p));
      calls.push({ op: 'open', file: path.basename(p) });
      return fd;
    },
    writevSync(fd, buffers, position) {
      maybeFail('writevSync');
      const n = nodeFs.writevSync(fd, buffers, position);
      calls.push({ op: 'writev', file: names.get(fd) ?? '?', bytes: n });
      return n;
    },
    fdatasyncSync(fd) {
      maybeFail('fdatasyncSync');
      nodeFs.fdatasyncSync(fd);
      calls.push({ op: 'fdatasync', file: names.get(fd) ?? '?' });
    },
    fsyncSync(fd) {
      nodeFs.fsyncSync(fd);
      calls.push({ op: 'fsync', file: names.get(fd) ?? '?' });
    },
    renameSync(from, to) {
      maybeFail('renameSync');
      nodeFs.renameSync(from, to);
      // An open descriptor follows its file to the new name.
      for (const [fd, name] of names) if (name === path.basename(from)) names.set(fd, path.basename(to));
      calls.push({ op: 'rename', file: `${path.basename(from)} -> ${path.basename(to)}` });
    },
  };
  return fsys;
}
