/**
 * A real file system without hard links for the tests: exFAT through FUSE (Debian's
 * exfat-fuse, as users mount USB disks and SD cards), on a loop device over an image file.
 * link() there fails with EPERM; chmod succeeds and changes nothing.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { removeDir, tempDir } from './tmp.js';

export interface ExfatMount {
  /** Where the file system is mounted. */
  dir: string;
  unmount(): void;
}

function run(command: string, args: string[]): string {
  return execFileSync(command, args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 30_000,
  }).trim();
}

/** Why an exFAT mount cannot be made here, or '' if it can be tried. */
export function exfatUnavailable(): string {
  if (process.getuid?.() !== 0) return 'needs root (loop devices and mount)';
  if (!fs.existsSync('/dev/fuse')) return 'no /dev/fuse';
  for (const tool of ['mkfs.exfat', 'mount.exfat-fuse', 'losetup']) {
    try {
      run('sh', ['-c', `command -v ${tool}`]);
    } catch {
      return `${tool} is not installed (Debian: apt-get install exfatprogs exfat-fuse)`;
    }
  }
  return '';
}

export function mountExfat(sizeMiB = 256): ExfatMount {
  const work = tempDir('ringwal-exfat-');
  const image = path.join(work, 'image.exfat');
  const dir = path.join(work, 'mnt');
  fs.mkdirSync(dir);
  fs.closeSync(fs.openSync(image, 'w'));
  fs.truncateSync(image, sizeMiB * 1024 * 1024);
  run('mkfs.exfat', [image]);
  const device = run('losetup', ['--find', '--show', image]);
  try {
    run('mount.exfat-fuse', [device, dir]);
  } catch (e) {
    run('losetup', ['-d', device]);
    removeDir(work);
    throw e;
  }
  return {
    dir,
    unmount() {
      try {
        run('umount', [dir]);
      } finally {
        run('losetup', ['-d', device]);
        removeDir(work);
      }
    },
  };
}
