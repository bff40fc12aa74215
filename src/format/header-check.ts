/**
 * Whether a segment's header may be believed for the segment its file name names
 * (docs/FORMAT.md "File names": the header is the authority for the first LSN, and a reader
 * reports a header that contradicts the name at the first LSN's offset). Every caller that
 * judges a header against a name asks this, so the offset and the words are the same in
 * every report and error.
 */
import { SEG_OFF_FIRST_LSN } from './constants.js';

/** Where a segment's header fails and why; the whole segment is unreadable. */
export interface HeaderProblem {
  /** 0 for a missing or invalid header, SEG_OFF_FIRST_LSN (8) for a first LSN the name contradicts. */
  offset: number;
  reason: string;
}

/**
 * What a segment's header says, in any of the forms a caller has it: `decodeSegmentHeader`'s
 * answer (a header, or `{ invalid }`), or a walk's summary (`firstLsn`, null when the header
 * is invalid, with the walk's `reason`).
 */
export type HeaderSeen = { invalid: string } | { firstLsn: number | null; reason?: string };

/** Null when the header is valid and names `nameFirstLsn`; otherwise where and why it fails. */
export function headerProblem(header: HeaderSeen, nameFirstLsn: number): HeaderProblem | null {
  if ('invalid' in header) return { offset: 0, reason: `bad segment header: ${header.invalid}` };
  if (header.firstLsn === null)
    return { offset: 0, reason: `bad segment header: ${header.reason ?? 'missing'}` };
  if (header.firstLsn === nameFirstLsn) return null;
  return {
    offset: SEG_OFF_FIRST_LSN,
    reason: `the header says first LSN ${header.firstLsn}, the name says ${nameFirstLsn}`,
  };
}
