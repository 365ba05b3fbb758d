// Where file commands (export, import, backup, restore) may read and write. The local CLI names any path
// (it runs with the operator's own rights, relative names taken from its cwd before they are sent). REST and
// ad-hoc callers name a file inside admin_files_dir: relative, no "..", no symlink out of it, and an
// existing file is replaced only with overwrite: true.
import { lstat, mkdir, realpath } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import type { AdminTarget, CommandCaller } from './command-def.js';
import { CommandError } from './command-def.js';

export interface FileTarget {
  path: string;
  /** May an existing file be replaced (write)? */
  overwrite: boolean;
  /** Error messages may name positions in the file (the CLI's operator owns it; a remote caller learns nothing about a file it did not write). */
  positions: boolean;
}

const isTrue = (v: unknown) => v === true || v === 'true' || v === '1';

const inside = (root: string, p: string) => {
  const rel = relative(root, p);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
};

/** The admin files directory, created 0700 on first use; its real path (symlinks resolved). */
async function filesDir(t: AdminTarget): Promise<string> {
  const dir = t.core.config.admin_files_dir;
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    return await realpath(dir);
  } catch (err) {
    t.core.log.child({ part: 'admin' }).error('admin_files_dir is not usable', { dir, code: (err as NodeJS.ErrnoException).code });
    throw new CommandError('the admin files directory (admin_files_dir) cannot be used; see the server log', 'unavailable');
  }
}

/** A name a remote caller gave: relative, no ".." segment, no NUL. */
function checkName(name: string): void {
  const segs = name.split(/[\\/]+/);
  if (isAbsolute(name) || /^[A-Za-z]:/.test(name) || name.startsWith('\\')) {
    throw new CommandError(`"${name}" is an absolute path: name a file inside the admin files directory (admin_files_dir)`);
  }
  if (segs.includes('..')) throw new CommandError(`"${name}" contains "..": name a file inside the admin files directory (admin_files_dir)`);
  if (name.includes('\0')) throw new CommandError('the file name contains a NUL character');
}

/** The file a command reads (import, restore): for a remote caller, an existing file or directory inside admin_files_dir. */
export async function fileToRead(t: AdminTarget, a: Record<string, unknown>, caller: CommandCaller): Promise<FileTarget> {
  const name = fileArg(a);
  if (caller.origin === 'cli') return { path: isAbsolute(name) ? name : resolve(t.core.config.data_dir, name), overwrite: false, positions: true };
  checkName(name);
  const root = await filesDir(t);
  let real: string;
  try {
    real = await realpath(join(root, name));
  } catch {
    throw new CommandError(`no file "${name}" in the admin files directory`, 'not-found');
  }
  if (!inside(root, real)) throw new CommandError(`"${name}" leads outside the admin files directory (a symbolic link); refused`);
  return { path: real, overwrite: false, positions: false };
}

/** The file a command writes (export, backup): for a remote caller, a new name (or overwrite: true) inside admin_files_dir. */
export async function fileToWrite(t: AdminTarget, a: Record<string, unknown>, caller: CommandCaller): Promise<FileTarget> {
  const name = fileArg(a);
  if (caller.origin === 'cli') return { path: isAbsolute(name) ? name : resolve(t.core.config.data_dir, name), overwrite: true, positions: true };
  checkName(name);
  if (/[\\/]$/.test(name) || basename(name) === '.') throw new CommandError(`"${name}" names a directory; name a file`);
  const root = await filesDir(t);
  let parent: string;
  try {
    parent = await realpath(dirname(join(root, name)));
  } catch {
    throw new CommandError(`the directory of "${name}" does not exist in the admin files directory`, 'not-found');
  }
  if (!inside(root, parent)) throw new CommandError(`"${name}" leads outside the admin files directory (a symbolic link); refused`);
  const path = join(parent, basename(name));
  const overwrite = isTrue(a.overwrite);
  const st = await lstat(path).catch(() => null);
  if (st?.isSymbolicLink()) throw new CommandError(`"${name}" is a symbolic link; refused`);
  if (st?.isDirectory()) throw new CommandError(`"${name}" is a directory; name a file`);
  if (st && !overwrite) throw new CommandError(`"${name}" already exists; pass overwrite: true to replace it`, 'conflict');
  return { path, overwrite, positions: false };
}

function fileArg(a: Record<string, unknown>): string {
  if (typeof a.file !== 'string' || a.file.trim() === '') throw new CommandError('a file name is required');
  return a.file;
}

