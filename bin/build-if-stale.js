#!/usr/bin/env node
// Builds dist/ with tsc only when a source is newer than the last successful build (npm start, npm test,
// npm install): an up-to-date tree starts at once. The build holds dist/.build-lock, which bin/xmppd.js
// waits for, so a CLI command never loads a half-written build.
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildLockHolder, waitForBuild } from './build-lock.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const stampFile = join(dist, '.build-stamp');
const lockFile = join(dist, '.build-lock');
const force = process.argv.includes('--force');

/** Newest mtime and count of the files tsc compiles (tsconfig include), plus tsconfig and package.json. */
function sourceState() {
  let newest = 0;
  let count = 0;
  const visit = (dir) => {
    let entries;
    try { entries = readdirSync(dir, { withFileTypes: true }); } catch { return; }
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory()) { if (e.name !== 'node_modules' && !e.name.startsWith('.')) visit(p); }
      else if (e.name.endsWith('.ts')) { count++; newest = Math.max(newest, statSync(p).mtimeMs); }
    }
  };
  for (const d of ['src', 'modules', 'hooks', 'test']) visit(join(root, d));
  for (const f of ['tsconfig.json', 'package.json']) newest = Math.max(newest, statSync(join(root, f)).mtimeMs);
  return { newest, count };
}

function upToDate(state) {
  try {
    const stamp = JSON.parse(readFileSync(stampFile, 'utf8'));
    return stamp.newest === state.newest && stamp.count === state.count;
  } catch {
    return false;
  }
}

let state = sourceState();
if (!force && upToDate(state)) process.exit(0);
mkdirSync(dist, { recursive: true });
for (;;) {
  try {
    closeSync(openSync(lockFile, 'wx'));
    writeFileSync(lockFile, String(process.pid));
    break;
  } catch (err) {
    if (err.code !== 'EEXIST') throw err;
    const holder = buildLockHolder(lockFile);
    if (holder === null) { rmSync(lockFile, { force: true }); continue; } // left by a build that died
    await waitForBuild(lockFile, `another build (pid ${holder}) is running; waiting for it`);
    state = sourceState();
    if (!force && upToDate(state)) process.exit(0);
  }
}
let status = 1;
try {
  rmSync(stampFile, { force: true });
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const started = Date.now();
  const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });
  status = r.status ?? 1;
  if (status === 0) {
    writeFileSync(stampFile, JSON.stringify({ ...state, built: new Date().toISOString() }));
    if (process.stderr.isTTY) process.stderr.write(`built dist/ in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  }
} finally {
  rmSync(lockFile, { force: true });
}
process.exit(status);
