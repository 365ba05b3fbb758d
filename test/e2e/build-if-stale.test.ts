// npm start / npm test build dist/ only when a source is newer than the last build (bin/build-if-stale.js),
// and bin/xmppd.js waits while a build holds dist/.build-lock. Run on a small copy of the layout (bin/ with a
// tiny tsconfig project), so the suite's own dist/ is never rebuilt under it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const dirs: string[] = [];
after(async () => { for (const d of dirs) await rm(d, { recursive: true, force: true }); });

async function project(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'xmppd-build-'));
  dirs.push(dir);
  await cp(join(REPO, 'bin'), join(dir, 'bin'), { recursive: true });
  await symlink(join(REPO, 'node_modules'), join(dir, 'node_modules'));
  await mkdir(join(dir, 'src', 'cli'), { recursive: true });
  await writeFile(join(dir, 'src', 'cli', 'main.ts'), 'export async function main(argv: string[]): Promise<void> { console.log("ran " + argv.slice(2).join(" ")); }\n');
  await writeFile(join(dir, 'package.json'), '{ "type": "module" }\n');
  await writeFile(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', outDir: 'dist', rootDir: '.', types: [] }, include: ['src/**/*.ts'] }));
  return dir;
}

function run(dir: string, script: string, ...args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(dir, 'bin', script), ...args], { cwd: dir, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: stdout + stderr });
    });
  });
}

const stamp = async (dir: string) => JSON.parse(await readFile(join(dir, 'dist', '.build-stamp'), 'utf8')) as { built: string };

test('a build runs when there is none, not again while sources are unchanged, and again when one is newer', async () => {
  const dir = await project();
  assert.equal((await run(dir, 'build-if-stale.js')).code, 0);
  assert.ok(existsSync(join(dir, 'dist', 'src', 'cli', 'main.js')), 'the first run builds');
  const first = await stamp(dir);
  assert.equal((await run(dir, 'build-if-stale.js')).code, 0);
  assert.equal((await stamp(dir)).built, first.built, 'up to date: no second build');
  const later = new Date(Date.now() + 5000);
  await utimes(join(dir, 'src', 'cli', 'main.ts'), later, later);
  assert.equal((await run(dir, 'build-if-stale.js')).code, 0);
  assert.notEqual((await stamp(dir)).built, first.built, 'a newer source is rebuilt');
  await writeFile(join(dir, 'src', 'extra.ts'), 'export const x = 1;\n');
  await utimes(join(dir, 'src', 'extra.ts'), new Date(0), new Date(0)); // an added file counts even when it looks old
  const before = (await stamp(dir)).built;
  assert.equal((await run(dir, 'build-if-stale.js')).code, 0);
  assert.notEqual((await stamp(dir)).built, before);
  assert.equal((await run(dir, 'xmppd.js', 'status')).out.trim(), 'ran status');
});

test('a failed build leaves no stamp and no lock, so the next start builds again', async () => {
  const dir = await project();
  await writeFile(join(dir, 'src', 'broken.ts'), 'export const x: number = "not a number";\n');
  const r = await run(dir, 'build-if-stale.js');
  assert.notEqual(r.code, 0);
  assert.ok(!existsSync(join(dir, 'dist', '.build-stamp')));
  assert.ok(!existsSync(join(dir, 'dist', '.build-lock')));
});

test('the CLI waits while a live build holds the lock, and a lock left by a dead build is ignored', async () => {
  const dir = await project();
  assert.equal((await run(dir, 'build-if-stale.js')).code, 0);
  const holder = spawn('sleep', ['60']);
  await writeFile(join(dir, 'dist', '.build-lock'), String(holder.pid));
  let done = false;
  const cli = run(dir, 'xmppd.js', 'status').then((r) => { done = true; return r; });
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(done, false, 'the CLI waits for the build');
  await rm(join(dir, 'dist', '.build-lock'));
  const r = await cli;
  holder.kill('SIGKILL');
  assert.match(r.out, /waiting for it to finish/);
  assert.match(r.out, /ran status/);
  await writeFile(join(dir, 'dist', '.build-lock'), '999999999'); // no such process
  assert.match((await run(dir, 'xmppd.js', 'status')).out, /^ran status/);
});
