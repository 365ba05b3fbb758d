// Counts the cache flushes (what fsync/fdatasync send) that the block device under a directory has
// completed, from /sys/dev/block/<major>:<minor>/stat (Linux >= 5.5). null where it cannot be read
// (no block device under the directory, as on tmpfs or overlayfs, or another OS).
import { readFileSync, statSync } from 'node:fs';

export function blockFlushes(dir: string): number | null {
  try {
    const dev = statSync(dir).dev;
    // Linux dev_t: major in bits 8..19, minor in bits 0..7 and 20..31.
    const major = Math.floor(dev / 256) & 0xfff;
    const minor = (dev & 0xff) | (Math.floor(dev / 4096) & 0xfff00);
    const fields = readFileSync(`/sys/dev/block/${major}:${minor}/stat`, 'utf8').trim().split(/\s+/);
    return fields.length >= 16 ? Number(fields[15]) : null; // field 16: flush requests completed
  } catch {
    return null;
  }
}
