// dist/.build-lock: held (with its pid) while bin/build-if-stale.js writes dist/; readers wait for it.
import { readFileSync } from 'node:fs';

/** The pid of a live build holding the lock, else null (no lock, or its process is gone). */
export function buildLockHolder(lockFile) {
  let pid;
  try {
    pid = Number(readFileSync(lockFile, 'utf8'));
  } catch {
    return null;
  }
  if (!Number.isInteger(pid) || pid <= 0) return 0; // being written right now: treat as held
  try {
    process.kill(pid, 0);
    return pid;
  } catch (err) {
    return err.code === 'EPERM' ? pid : null;
  }
}

/** Waits (up to 10 minutes) until no live build holds the lock; says once why it waits. */
export async function waitForBuild(lockFile, message) {
  let told = false;
  const deadline = Date.now() + 600_000;
  while (buildLockHolder(lockFile) !== null && Date.now() < deadline) {
    if (!told) { process.stderr.write(`${message}\n`); told = true; }
    await new Promise((r) => setTimeout(r, 100));
  }
}
