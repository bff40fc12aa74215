/**
 * Who holds a log directory: the owner record written into its LOCK file, and the judgement
 * of whether a recorded owner is provably dead, provably alive, or cannot be told.
 *
 * A pid alone names a process only inside one PID namespace of one boot of one kernel: a
 * container's pid 1 is not the host's pid 1. So the record also carries the kernel's boot id
 * (`/proc/sys/kernel/random/boot_id`, shared by every container on a host and new at every
 * boot), the PID namespace (`/proc/self/ns/pid`) and the host name. An owner is provably dead
 * only when it ran in this boot and this PID namespace and its pid is gone or now names a
 * process with another start time, or when it ran on this host in an earlier boot. Anything
 * else (another namespace, another host) cannot be told from here.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';

/** What a LOCK file says of its owner. Fields are '' where the owner could not read them. */
export interface OwnerRecord {
  /** Record version; absent in records written before the identity fields existed. */
  v?: 1;
  host: string;
  bootId: string;
  pidNamespace: string;
  pid: number;
  /** Start time of `pid`, in clock ticks since boot (field 22 of /proc/<pid>/stat). */
  start: string;
  /** Random, so an owner can tell its own record from a successor's. */
  token: string;
  /** When the lock was taken (ISO 8601). */
  since: string;
  /** Whether the owner also holds the kernel lock on the LOCK file (src/lock/kernel-lock.ts). */
  kernelLock: boolean;
}

export type Verdict = { kind: 'dead'; why: string } | { kind: 'alive' } | { kind: 'unknown'; why: string };

function readTrimmed(path: string): string {
  try {
    return fs.readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}

function readLinkOrEmpty(path: string): string {
  try {
    return fs.readlinkSync(path);
  } catch {
    return '';
  }
}

/** Start time of a process in clock ticks since boot; null if no such process, '' where /proc cannot tell. */
export function processStart(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22; the command name (field 2) may contain spaces, so count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    return '';
  }
}

/** This process, as a LOCK file records it. */
export function currentOwner(kernelLock: boolean): OwnerRecord {
  return {
    v: 1,
    host: os.hostname(),
    bootId: readTrimmed('/proc/sys/kernel/random/boot_id'),
    pidNamespace: readLinkOrEmpty('/proc/self/ns/pid'),
    pid: process.pid,
    start: processStart(process.pid) ?? '',
    token: randomBytes(8).toString('hex'),
    since: new Date().toISOString(),
    kernelLock,
  };
}

/** The record as stored: one line of JSON. A torn record does not parse, so it is never misread. */
export function encodeOwner(owner: OwnerRecord): Buffer {
  return Buffer.from(`${JSON.stringify(owner)}\n`);
}

/**
 * The owner a LOCK file's text names, or null when it names none (empty, torn, not JSON).
 * Records of the first format ({ pid, start, token }) read with empty identity fields.
 */
export function parseOwner(text: string | null): OwnerRecord | null {
  if (text === null) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  const r = value as Record<string, unknown>;
  const str = (v: unknown): string => (typeof v === 'string' ? v : '');
  return {
    ...(r.v === 1 ? { v: 1 as const } : {}),
    host: str(r.host),
    bootId: str(r.bootId),
    pidNamespace: str(r.pidNamespace),
    pid: typeof r.pid === 'number' ? r.pid : Number.NaN,
    start: str(r.start),
    token: str(r.token),
    since: str(r.since),
    kernelLock: r.kernelLock === true,
  };
}

/** Whether the process `owner` names is running now, judged inside this PID namespace. */
function pidAlive(owner: OwnerRecord): boolean {
  if (!Number.isSafeInteger(owner.pid) || owner.pid <= 0) return false;
  try {
    process.kill(owner.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const start = processStart(owner.pid);
  if (start === null) return false;
  return start === '' || owner.start === '' || start === owner.start;
}

/**
 * Whether `owner` is provably dead, provably alive, or cannot be told from `me`'s place.
 * Never 'dead' for an owner that might still run.
 */
export function judgeOwner(owner: OwnerRecord, me: OwnerRecord): Verdict {
  if (owner.v !== 1) {
    // The first format named only pid and start: it was judged in the opener's namespace then,
    // and is judged the same way now.
    return pidAlive(owner) ? { kind: 'alive' } : { kind: 'dead', why: 'its process is gone' };
  }
  const sameHost = owner.host === me.host;
  if (owner.bootId !== '' && me.bootId !== '' && owner.bootId !== me.bootId) {
    if (sameHost) return { kind: 'dead', why: 'it was taken in an earlier boot of this host' };
    return { kind: 'unknown', why: `it was taken on another host (${JSON.stringify(owner.host)})` };
  }
  if (owner.bootId === '' || me.bootId === '') {
    // Without boot ids only the host name can say this is the same kernel.
    if (!sameHost)
      return { kind: 'unknown', why: `it was taken on another host (${JSON.stringify(owner.host)})` };
  }
  if (owner.pidNamespace === '' || me.pidNamespace === '' || owner.pidNamespace !== me.pidNamespace) {
    return {
      kind: 'unknown',
      why: `its process runs in another PID namespace (${owner.pidNamespace || 'unrecorded'}; a container?), where its pid cannot be checked from here`,
    };
  }
  return pidAlive(owner) ? { kind: 'alive' } : { kind: 'dead', why: 'its process is gone' };
}

/** "process 12 on host "vm" (PID namespace pid:[4026531836]), since 2026-12-07T06:00:00.000Z" */
export function describeOwner(owner: OwnerRecord, me: OwnerRecord): string {
  if (owner.pid === me.pid && owner.pidNamespace === me.pidNamespace && owner.bootId === me.bootId) {
    return 'another open log in this process';
  }
  const parts = [`process ${Number.isSafeInteger(owner.pid) ? owner.pid : '(unrecorded)'}`];
  if (owner.host !== '') parts.push(`on host ${JSON.stringify(owner.host)}`);
  if (owner.pidNamespace !== '') parts.push(`(PID namespace ${owner.pidNamespace})`);
  let text = parts.join(' ');
  if (owner.since !== '') text += `, since ${owner.since}`;
  return text;
}
