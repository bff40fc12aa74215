/**
 * Going on from an earlier writer's log, on its own: the tail reopened (and rewritten after a
 * SYNC_FAILED note), a tail sealed when this open writes larger records, and the checkpoint
 * lowered to the log's end (an error in strict mode).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { encode } from '../../src/encoding.js';
import { ErrorCode } from '../../src/errors.js';
import { nodeFs } from '../../src/fs.js';
import { DEFAULTS } from '../../src/options.js';
import { recoverOnOpen } from '../../src/recovery/open-scan.js';
import { COMMAND, COMMAND_CLOSE, createRing, ringViews } from '../../src/ring/layout.js';
import { RingProducer } from '../../src/ring/producer.js';
import { writeCheckpoint } from '../../src/segment/checkpoint.js';
import { SegmentSet } from '../../src/segment/segment-set.js';
import { LogWriter, type WriterConfig } from '../../src/writer/log-writer.js';
import { resumeCheckpoint, resumeTail } from '../../src/writer/resume.js';
import { type RecordingFs, recordingFs } from '../helpers/recording-fs.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

let dir: string;
afterEach(() => removeDir(dir));

const BOUNDS = { maxRecordBytes: 16 * 1024 - 24, maxEntryBytes: 1024 * 1024 };

/** A log of `count` entries left by a writer that closed (its segment trimmed and synced). */
function logOf(count: number): void {
  dir = tempDir('ringwal-resume-');
  const sab = createRing(64 * 1024);
  const config: WriterConfig = {
    dir,
    sync: 'always',
    syncIntervalMs: 100,
    segmentBytes: 1024 * 1024,
    ...BOUNDS,
    maxBatchBytes: 32 * 1024,
    idleWaitMs: 0,
    rotateIntervalMs: 0,
    retention: { ...DEFAULTS.retention },
    preallocate: false,
  };
  const writer = new LogWriter(nodeFs, sab, config);
  writer.open();
  const producer = new RingProducer(sab);
  for (let lsn = 1; lsn <= count; lsn++) {
    const e = encode({ lsn });
    producer.write(e, e.start, e.end, e.start, lsn);
  }
  producer.publish();
  Atomics.or(ringViews(sab).control, COMMAND, COMMAND_CLOSE);
  while (writer.step()) {
    // until stopped
  }
}

function ops(fsys: RecordingFs): string[] {
  return fsys.calls.map((c) => `${c.op} ${c.file}`);
}

describe('resumeTail', () => {
  it('reopens the tail at its valid end, and rewrites what followed its last sync mark after a SYNC_FAILED note', () => {
    logOf(5);
    fs.writeFileSync(path.join(dir, 'SYNC_FAILED'), '');
    const state = recoverOnOpen(nodeFs, dir, 'tolerate-tail');
    const segments = new SegmentSet(nodeFs, dir);
    segments.load();
    const fsys = recordingFs();
    const segment = resumeTail(fsys, dir, state, BOUNDS, segments)!;
    expect(segment.path).toBe(state.tail!.path);
    expect(segment.offset).toBe(state.tail!.validEnd);
    expect(segments.active!.bytes).toBe(state.tail!.validEnd);
    const name = path.basename(segment.path);
    // The bytes after the sync mark written back, then synced; then the note removed.
    expect(ops(fsys).slice(1, 3)).toEqual([`writev ${name}`, `fdatasync ${name}`]);
    expect(fs.existsSync(path.join(dir, 'SYNC_FAILED'))).toBe(false);
    segment.close();
  });

  it('seals the tail and leaves the start of a new segment to the caller when this open writes larger records', () => {
    logOf(3);
    const state = recoverOnOpen(nodeFs, dir, 'tolerate-tail');
    const tail = state.tail!;
    fs.appendFileSync(tail.path, new Uint8Array(4096)); // preallocated zeros an earlier writer left
    const segments = new SegmentSet(nodeFs, dir);
    segments.load();
    const larger = { ...BOUNDS, maxRecordBytes: BOUNDS.maxRecordBytes * 2 };
    expect(resumeTail(nodeFs, dir, state, larger, segments)).toBeNull();
    expect(fs.statSync(tail.path).size).toBe(tail.validEnd);
    expect(segments.active?.path).toBe(tail.path);
  });
});

describe('resumeCheckpoint', () => {
  it('lowers a checkpoint past the log to its end, and reports it', () => {
    logOf(4);
    writeCheckpoint(nodeFs, dir, 9);
    const state = recoverOnOpen(nodeFs, dir, 'tolerate-tail');
    expect(resumeCheckpoint(nodeFs, dir, 'tolerate-tail', state)).toBe(4);
    expect(state.corruptions).toEqual([
      expect.objectContaining({
        segment: 'CHECKPOINT',
        lsns: { from: 5, to: 9 },
        action: 'checkpoint lowered to LSN 4',
      }),
    ]);
    expect(resumeCheckpoint(nodeFs, dir, 'tolerate-tail', state)).toBe(4); // durable
  });

  it('refuses it in strict mode', () => {
    logOf(2);
    writeCheckpoint(nodeFs, dir, 3);
    const state = recoverOnOpen(nodeFs, dir, 'strict');
    expect(() => resumeCheckpoint(nodeFs, dir, 'strict', state)).toThrow(
      expect.objectContaining({ code: ErrorCode.CORRUPT }),
    );
  });
});
