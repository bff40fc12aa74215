/**
 * Preallocation on its own, over a real segment file: when it zero-fills (small commits, space
 * running low, idle moments), when it does not (large commits, disabled), the next segment's
 * draft, and a full disk turning it off instead of failing the log.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { FileSystem } from '../../src/fs.js';
import { nodeFs } from '../../src/fs.js';
import { WriterMetrics } from '../../src/metrics.js';
import { type ActiveSegment, createSegmentFile } from '../../src/segment/segment-file.js';
import { IoPhase } from '../../src/writer/io-phase.js';
import { Preallocation } from '../../src/writer/preallocation.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

const MiB = 1024 * 1024;
let dir: string;
afterEach(() => removeDir(dir));

function setup(options: { enabled?: boolean; segmentBytes?: number; fsys?: FileSystem } = {}) {
  dir = tempDir('ringwal-prealloc-');
  const fsys = options.fsys ?? nodeFs;
  const io = new IoPhase();
  const config = { dir, preallocate: options.enabled ?? true, segmentBytes: options.segmentBytes ?? 4 * MiB };
  const prealloc = new Preallocation(fsys, config, new WriterMetrics(new Float64Array(64)), io);
  const header = { firstLsn: 1, createdAtMs: 0, maxRecordBytes: 4096, maxEntryBytes: 4096 };
  const segment = createSegmentFile(fsys, dir, header, null);
  return { prealloc, segment, io, size: () => fs.statSync(segment.path).size };
}

/** Records a commit of `bytes` and its fdatasync. */
function commit(prealloc: Preallocation, segment: ActiveSegment, bytes: number): void {
  segment.write([new Uint8Array(bytes).fill(1)], bytes);
  prealloc.wrote(bytes);
  prealloc.synced();
  prealloc.afterCommit(segment);
}

describe('Preallocation', () => {
  it('zero-fills a step ahead of small commits, and the commits then land inside it', () => {
    const { prealloc, segment, size } = setup();
    commit(prealloc, segment, 1000);
    expect(segment.allocated).toBe(40 + 1000 + MiB);
    expect(size()).toBe(segment.allocated);
    commit(prealloc, segment, 1000); // plenty left: no step
    expect(size()).toBe(40 + 1000 + MiB);
  });

  it('does nothing while commits are large, or when disabled', () => {
    const large = setup();
    commit(large.prealloc, large.segment, 64 * 1024);
    expect(large.prealloc.whileIdle(large.segment)).toBe(false);
    expect(large.size()).toBe(40 + 64 * 1024);
    removeDir(dir);
    const off = setup({ enabled: false });
    commit(off.prealloc, off.segment, 100);
    expect(off.prealloc.whileIdle(off.segment)).toBe(false);
    expect(off.size()).toBe(140);
  });

  it('prepares the next segment once the open one is half full, and removes it on close', () => {
    const { prealloc, segment } = setup({ segmentBytes: 8192 });
    const draft = path.join(dir, 'wal-next.tmp');
    commit(prealloc, segment, 1000); // zero-fills the open segment up to its size + PREALLOC_LOW
    expect(prealloc.whileIdle(segment)).toBe(false); // under half full: no draft yet
    commit(prealloc, segment, 4000);
    expect(prealloc.whileIdle(segment)).toBe(true);
    expect(fs.statSync(draft).size).toBe(8192);
    prealloc.close();
    expect(fs.existsSync(draft)).toBe(false);
    expect(prealloc.takeDraft()).toBeNull();
  });

  it('hands the draft over once', () => {
    const { prealloc, segment } = setup({ segmentBytes: 8192 });
    commit(prealloc, segment, 5000);
    prealloc.whileIdle(segment);
    const taken = prealloc.takeDraft();
    expect(taken).toMatchObject({ path: path.join(dir, 'wal-next.tmp'), allocated: 8192 });
    expect(prealloc.takeDraft()).toBeNull();
    nodeFs.closeSync(taken!.fd);
  });

  it('stops for good on a full disk, leaving the file as it was', () => {
    let full = false;
    const fsys: FileSystem = {
      ...nodeFs,
      writevSync: (fd, buffers, position) => {
        if (full) throw Object.assign(new Error('ENOSPC: injected'), { code: 'ENOSPC', syscall: 'writev' });
        return nodeFs.writevSync(fd, buffers, position);
      },
    };
    const { prealloc, segment, size, io } = setup({ fsys });
    segment.write([new Uint8Array(100)], 100);
    full = true;
    prealloc.afterCommit(segment);
    expect(io.during).toBe('write');
    expect(size()).toBe(140);
    full = false;
    expect(prealloc.whileIdle(segment)).toBe(false);
    expect(size()).toBe(140);
  });
});
