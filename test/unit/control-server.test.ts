/**
 * The writer's side of the control words, driven by hand from this thread playing the main
 * thread: requests noted with the ring position they cover, answers, published LSNs, the
 * sticky error, and the sleep protocol's early returns.
 */
import { describe, expect, it, vi } from 'vitest';
import { ErrorCode, WalError } from '../../src/errors.js';
import { ControlServer } from '../../src/ring/control-server.js';
import {
  CHECKPOINT_DONE,
  CHECKPOINT_REQUEST,
  CHECKPOINT_TARGET,
  COMMAND,
  COMMAND_CLOSE,
  createRing,
  DURABLE_LSN,
  ERROR_BYTES,
  ERROR_SET,
  ERROR_STATE,
  NOTIFY_SEQ,
  ROTATE_DONE,
  ROTATE_REQUEST,
  ringViews,
  SYNC_DONE,
  SYNC_REQUEST,
  WRITE_POS,
  WRITER_RUNNING,
  WRITER_STATE,
  WRITER_STOPPED,
  WRITTEN_LSN,
} from '../../src/ring/layout.js';

function setup() {
  const sab = createRing(64 * 1024);
  return { ring: ringViews(sab), server: new ControlServer(sab), sab };
}

describe('ControlServer', () => {
  it('notes a sync request with the write position published before it, and answers it', () => {
    const { ring, server } = setup();
    Atomics.store(ring.control, WRITE_POS, 96);
    Atomics.store(ring.control, SYNC_REQUEST, 1);
    server.noteRequests();
    Atomics.store(ring.control, WRITE_POS, 200); // published after the request was noted
    server.noteRequests();
    expect(server.syncPending()).toBe(true);
    expect(server.syncTarget).toBe(96);
    expect(server.requestsPending()).toBe(true);
    server.answerSync();
    expect(Atomics.load(ring.control, SYNC_DONE)).toBe(1);
    expect(server.syncPending()).toBe(false);
    expect(server.requestsPending()).toBe(false);
  });

  it('notes and answers rotate and checkpoint requests', () => {
    const { ring, server } = setup();
    Atomics.store(ring.control, WRITE_POS, 64);
    Atomics.store(ring.control, ROTATE_REQUEST, 3);
    server.noteRequests();
    expect([server.rotatePending(), server.rotateTarget]).toEqual([true, 64]);
    server.answerRotate();
    expect(Atomics.load(ring.control, ROTATE_DONE)).toBe(3);
    expect(server.checkpointRequested()).toBe(false);
    Atomics.store(ring.lsns, CHECKPOINT_TARGET, 41n);
    Atomics.store(ring.control, CHECKPOINT_REQUEST, 2);
    expect(server.requestsPending()).toBe(true);
    expect(server.checkpointRequested()).toBe(true);
    expect(server.checkpointTarget()).toBe(41);
    server.answerCheckpoint();
    expect(Atomics.load(ring.control, CHECKPOINT_DONE)).toBe(2);
    expect(server.checkpointRequested()).toBe(false);
  });

  it('goes on from the answers a previous writer on the same ring gave', () => {
    const { ring, sab } = setup();
    Atomics.store(ring.control, SYNC_REQUEST, 5);
    Atomics.store(ring.control, SYNC_DONE, 5);
    Atomics.store(ring.control, ROTATE_REQUEST, 2);
    Atomics.store(ring.control, ROTATE_DONE, 2);
    const server = new ControlServer(sab);
    server.noteRequests();
    expect(server.requestsPending()).toBe(false);
  });

  it('publishes LSNs and bumps NOTIFY_SEQ on notify', () => {
    const { ring, server } = setup();
    server.publishLsns(7, 5);
    server.notifyMain();
    expect([Atomics.load(ring.lsns, WRITTEN_LSN), Atomics.load(ring.lsns, DURABLE_LSN)]).toEqual([7n, 5n]);
    expect(Atomics.load(ring.control, NOTIFY_SEQ)).toBe(1);
  });

  it('writes the sticky error where the main thread reads it', () => {
    const { ring, server } = setup();
    server.publishError(new WalError(ErrorCode.FSYNC_FAILED, 'fdatasync failed', { errno: 'EIO' }));
    expect(Atomics.load(ring.control, ERROR_STATE)).toBe(ERROR_SET);
    const json = new TextDecoder().decode(ring.errorArea.slice(0, Atomics.load(ring.control, ERROR_BYTES)));
    expect(JSON.parse(json)).toMatchObject({ code: ErrorCode.FSYNC_FAILED, errno: 'EIO' });
    expect(Atomics.load(ring.control, NOTIFY_SEQ)).toBe(1);
  });

  it('does not wait when data or a request arrived since the position it saw, and is running after', () => {
    const { ring, server } = setup();
    const wait = vi.spyOn(Atomics, 'wait');
    try {
      Atomics.store(ring.control, WRITE_POS, 8);
      server.sleep(0, 5_000); // WRITE_POS moved past 0: seen while spinning
      Atomics.store(ring.control, SYNC_REQUEST, 1);
      server.sleep(8, 0); // no spin: the re-check after announcing sleep sees the request
      expect(wait).not.toHaveBeenCalled();
      server.noteRequests();
      server.answerSync();
      server.sleep(8, 0); // nothing new: waits (for 0 ms)
      expect(wait).toHaveBeenCalledTimes(1);
    } finally {
      wait.mockRestore();
    }
    expect(Atomics.load(ring.control, WRITER_STATE)).toBe(WRITER_RUNNING);
    Atomics.or(ring.control, COMMAND, COMMAND_CLOSE);
    expect(server.closeRequested()).toBe(true);
    server.markStopped();
    expect(Atomics.load(ring.control, WRITER_STATE)).toBe(WRITER_STOPPED);
  });
});
