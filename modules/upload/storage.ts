// Where uploaded files live (XEP-0363): a small interface so that a cluster can add a shared store, and its
// local-disk implementation. Ids are random (never user input); the filename is metadata only.
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable, Transform } from 'node:stream';

export interface FileMeta {
  /** As the uploader named it (sanitised): for Content-Disposition, never a path. */
  name: string;
  type: string;
  size: number;
  /** When the upload completed (ms since the epoch). */
  created: number;
}

/** One file to serve: the whole of it or the byte range asked for (inclusive `end`). */
export interface StoredFile { meta: FileMeta; stream: Readable; start: number; end: number }

export interface FileStore {
  /** Store the bytes of `stream`; rejects (and keeps nothing) unless exactly meta.size bytes arrive. */
  put(id: string, stream: Readable, meta: FileMeta): Promise<void>;
  /** The file's metadata, or null when there is no such (complete) file. */
  stat(id: string): Promise<FileMeta | null>;
  /** The file's bytes from `start` to `end` inclusive (the whole file by default); null when absent. */
  get(id: string, range?: { start: number; end: number }): Promise<StoredFile | null>;
  delete(id: string): Promise<void>;
  /** Files (and leftovers of interrupted uploads) created before `before` (ms since the epoch). */
  listExpired(before: number): Promise<string[]>;
}

export class SizeMismatchError extends Error {}

const ID = /^[0-9a-f]{24}$/;

/**
 * Files under `dir`: <id> (the bytes) and <id>.json (metadata). An upload is written to <id>.part and
 * renamed once all of it is on disk, so a crash leaves a .part file (swept later), never a short file.
 */
export class DiskStore implements FileStore {
  private ready: Promise<unknown> | null = null;
  constructor(private readonly dir: string) {}

  private path(id: string, ext = ''): string {
    if (!ID.test(id)) throw new Error(`not a file id: ${id}`); // paths come from ids only
    return join(this.dir, id + ext);
  }

  private mkdir(): Promise<unknown> {
    this.ready ??= mkdir(this.dir, { recursive: true, mode: 0o700 });
    return this.ready;
  }

  async put(id: string, stream: Readable, meta: FileMeta): Promise<void> {
    await this.mkdir();
    const part = this.path(id, '.part');
    let seen = 0;
    const count = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        seen += chunk.length;
        cb(seen > meta.size ? new SizeMismatchError(`more than ${meta.size} bytes`) : null, chunk);
      },
    });
    try {
      await pipeline(stream, count, createWriteStream(part, { flags: 'wx', mode: 0o600 }));
      if (seen !== meta.size) throw new SizeMismatchError(`${seen} bytes instead of ${meta.size}`);
      await writeFile(this.path(id, '.json'), JSON.stringify(meta), { mode: 0o600 });
      await rename(part, this.path(id));
    } catch (err) {
      await this.delete(id);
      throw err;
    }
  }

  async stat(id: string): Promise<FileMeta | null> {
    if (!ID.test(id)) return null;
    try {
      const [meta] = await Promise.all([readFile(this.path(id, '.json'), 'utf8'), stat(this.path(id))]);
      return JSON.parse(meta) as FileMeta;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async get(id: string, range?: { start: number; end: number }): Promise<StoredFile | null> {
    const meta = await this.stat(id);
    if (!meta) return null;
    const start = range?.start ?? 0;
    const end = range?.end ?? meta.size - 1;
    // An empty file has nothing to read (createReadStream's end is inclusive).
    const stream = meta.size === 0 ? Readable.from([]) : createReadStream(this.path(id), { start, end });
    return { meta, stream, start, end };
  }

  async delete(id: string): Promise<void> {
    await Promise.all(['', '.json', '.part'].map((ext) => rm(this.path(id, ext), { force: true })));
  }

  async listExpired(before: number): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out = new Set<string>();
    for (const name of names) {
      const id = name.replace(/\.(json|part)$/, '');
      if (!ID.test(id) || out.has(id)) continue;
      if (name.endsWith('.json')) continue; // judged by its data file (or .part)
      try {
        // the data file's mtime is when its upload completed (or a .part file's last write)
        if ((await stat(join(this.dir, name))).mtimeMs < before) out.add(id);
      } catch {
        // deleted meanwhile
      }
    }
    return [...out];
  }
}
