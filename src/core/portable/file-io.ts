// Files for export, import, backup and restore: written to a temporary name and moved into place when
// complete (a crash never leaves a half-written file under the requested name; without overwrite the move
// fails if the name was taken meanwhile), gzip when the name ends in .gz, and read back with gzip detected
// from the magic bytes.
import { constants, createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { link, open, rename, rm, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { createGunzip, createGzip, type Gzip } from 'node:zlib';
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { CommandError } from '../admin/command-def.js';

export interface OutFile {
  /** Write text; resolves when the stream can take more (backpressure). */
  write(s: string): Promise<void>;
  /** Flush, fsync and move into place. */
  commit(): Promise<void>;
  /** Remove the temporary file (after a failure). */
  abort(): Promise<void>;
}

/** `overwrite` false: commit fails (conflict) if `path` exists by then, and never replaces it. */
export async function createOutFile(path: string, opts: { overwrite?: boolean } = {}): Promise<OutFile> {
  const overwrite = opts.overwrite ?? true;
  // A fresh random name, created exclusively: a file or link planted under a predictable name is never followed.
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  let fh;
  try {
    fh = await open(tmp, 'wx', 0o600); // exports hold credentials (SCRAM keys) and private data
  } catch (err) {
    throw new CommandError(`cannot write ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 'invalid');
  }
  const file: WriteStream = createWriteStream('', { fd: fh.fd, autoClose: false });
  const gz: Gzip | null = path.endsWith('.gz') ? createGzip() : null;
  if (gz) gz.pipe(file);
  const sink = gz ?? file;
  let failed: Error | null = null;
  const onError = (err: Error) => (failed ??= err);
  file.on('error', onError);
  gz?.on('error', onError);
  return {
    async write(s) {
      if (failed) throw failed;
      if (!sink.write(s)) await Promise.race([once(sink, 'drain'), once(sink, 'error')]);
      if (failed) throw failed;
    },
    async commit() {
      if (failed) throw failed;
      sink.end();
      await once(file, 'finish');
      if (failed) throw failed;
      await fh.sync();
      await fh.close();
      if (overwrite) return rename(tmp, path);
      try {
        await link(tmp, path); // atomic: fails with EEXIST rather than replace what appeared meanwhile
      } catch (err) {
        await rm(tmp, { force: true });
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new CommandError(`${basename(path)} already exists; pass overwrite: true to replace it`, 'conflict');
        throw err;
      }
      await unlink(tmp);
    },
    async abort() {
      sink.destroy();
      await fh.close().catch(() => undefined);
      await rm(tmp, { force: true });
    },
  };
}

/**
 * A file's bytes, gunzipped when it starts with the gzip magic. `nofollow`: refuse a symbolic link (the caller
 * resolved and checked the real path; a link put there since is not followed). Opened once: what was
 * checked is what is read.
 */
export async function openInFile(path: string, opts: { nofollow?: boolean } = {}): Promise<Readable> {
  let magic: Buffer;
  let fh;
  try {
    fh = await open(path, constants.O_RDONLY | (opts.nofollow ? constants.O_NOFOLLOW : 0));
    const { buffer, bytesRead } = await fh.read(Buffer.alloc(2), 0, 2, 0);
    magic = buffer.subarray(0, bytesRead);
  } catch (err) {
    await fh?.close();
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'ELOOP' ? 'it is a symbolic link' : code === 'EISDIR' ? 'it is a directory' : code ?? (err as Error).message;
    throw new CommandError(`cannot read ${path}: ${why}`, code === 'ENOENT' ? 'not-found' : 'invalid');
  }
  const raw = createReadStream('', { fd: fh, start: 0, highWaterMark: 64 * 1024 }); // the stream owns the handle and closes it
  if (magic.length === 2 && magic[0] === 0x1f && magic[1] === 0x8b) {
    const gunzip = createGunzip();
    raw.on('error', (err) => gunzip.destroy(err));
    gunzip.on('close', () => raw.destroy()); // the reader stopped early: the file is closed too
    return raw.pipe(gunzip);
  }
  return raw;
}
