// Files for export, import, backup and restore: written to a temporary name and renamed when complete (a
// crash never leaves a half-written file under the requested name), gzip when the name ends in .gz, and
// read back with gzip detected from the magic bytes.
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { createGunzip, createGzip, type Gzip } from 'node:zlib';
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { CommandError } from '../admin/command-def.js';

/** A relative path from REST or ad-hoc commands is taken relative to the data directory (the CLI sends absolute ones). */
export function resolvePath(file: unknown, dataDir: string): string {
  if (typeof file !== 'string' || file.trim() === '') throw new CommandError('a file name is required');
  return isAbsolute(file) ? file : resolve(dataDir, file);
}

export interface OutFile {
  /** Write text; resolves when the stream can take more (backpressure). */
  write(s: string): Promise<void>;
  /** Flush, fsync and move into place. */
  commit(): Promise<void>;
  /** Remove the temporary file (after a failure). */
  abort(): Promise<void>;
}

export async function createOutFile(path: string): Promise<OutFile> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  let fh;
  try {
    fh = await open(tmp, 'w', 0o600); // exports hold credentials (SCRAM keys) and private data
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
      await rename(tmp, path);
    },
    async abort() {
      sink.destroy();
      await fh.close().catch(() => undefined);
      await rm(tmp, { force: true });
    },
  };
}

/** A file's bytes, gunzipped when it starts with the gzip magic. */
export async function openInFile(path: string): Promise<Readable> {
  let magic: Buffer;
  try {
    const fh = await open(path, 'r');
    try {
      const { buffer, bytesRead } = await fh.read(Buffer.alloc(2), 0, 2, 0);
      magic = buffer.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CommandError(`cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : code ?? (err as Error).message}`, code === 'ENOENT' ? 'not-found' : 'invalid');
  }
  const raw = createReadStream(path, { highWaterMark: 256 * 1024 });
  if (magic.length === 2 && magic[0] === 0x1f && magic[1] === 0x8b) {
    const gunzip = createGunzip();
    raw.on('error', (err) => gunzip.destroy(err));
    return raw.pipe(gunzip);
  }
  return raw;
}
