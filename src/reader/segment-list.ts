/** What both readers (sequential and parallel) share about the directory they read. */
import * as fs from 'node:fs';
import { ErrorCode, WalError } from '../errors.js';
import { type SegmentFile, segmentsAmong } from '../segment/naming.js';

/** How long a reader waits before reading a live segment again to confirm damage in it. */
export const CONFIRM_DELAY_MS = 20;

export async function listSegmentsAsync(dir: string): Promise<SegmentFile[]> {
  return segmentsAmong(dir, await fs.promises.readdir(dir));
}

export async function isAllZeros(path: string): Promise<boolean> {
  const bytes = await fs.promises.readFile(path);
  return bytes.every((b) => b === 0);
}

export function vanished(path: string): WalError {
  return new WalError(
    ErrorCode.SEGMENT_DELETED,
    `${path} was deleted (by retention) before this reader got to it; read again from a later LSN`,
    { path },
  );
}
