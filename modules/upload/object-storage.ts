// Uploaded files in a JetStream object store shared by every cluster node (issue 13): a PUT on one node is served
// by all. Objects are named <host>/<id>; the file's metadata rides in the object's description. Published only
// once every byte arrived (the store writes the object's metadata last), so a reader never sees a short file.
import { Readable, Transform } from 'node:stream';
import type { ObjectStore } from '../../src/sdk.js';
import { SizeMismatchError, type FileMeta, type FileStore, type StoredFile } from './storage.js';

const ID = /^[0-9a-f]{24}$/;

export class ObjectFileStore implements FileStore {
  constructor(private readonly store: () => Promise<ObjectStore>, private readonly host: string) {}

  private name(id: string): string {
    if (!ID.test(id)) throw new Error(`not a file id: ${id}`);
    return `${this.host}/${id}`;
  }

  async put(id: string, stream: Readable, meta: FileMeta): Promise<void> {
    const os = await this.store();
    let seen = 0;
    const count = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        seen += chunk.length;
        cb(seen > meta.size ? new SizeMismatchError(`more than ${meta.size} bytes`) : null, chunk);
      },
    });
    stream.on('error', (err) => count.destroy(err)); // a client that goes away fails the put
    stream.on('aborted', () => count.destroy(new SizeMismatchError('the upload was cut short')));
    const body = Readable.toWeb(stream.pipe(count)) as ReadableStream<Uint8Array>;
    // A failed put purges what it wrote and publishes nothing.
    await os.put({ name: this.name(id), description: JSON.stringify(meta) }, body);
    if (seen !== meta.size) {
      await this.delete(id);
      throw new SizeMismatchError(`${seen} bytes instead of ${meta.size}`);
    }
  }

  async stat(id: string): Promise<FileMeta | null> {
    if (!ID.test(id)) return null;
    const info = await (await this.store()).info(this.name(id));
    if (!info || info.deleted || !info.description) return null;
    return JSON.parse(info.description) as FileMeta;
  }

  async get(id: string, range?: { start: number; end: number }): Promise<StoredFile | null> {
    if (!ID.test(id)) return null;
    const r = await (await this.store()).get(this.name(id));
    if (!r || !r.info.description) return null;
    const meta = JSON.parse(r.info.description) as FileMeta;
    const start = range?.start ?? 0;
    const end = range?.end ?? meta.size - 1;
    const whole = Readable.fromWeb(r.data as never);
    // Objects are read from the start (chunks of 128 KiB): skip to the range and stop after it.
    const stream = start === 0 && end === meta.size - 1 ? whole : whole.pipe(slice(start, end));
    return { meta, stream, start, end };
  }

  async delete(id: string): Promise<void> {
    const os = await this.store();
    const name = this.name(id);
    if (await os.info(name)) await os.delete(name);
  }

  async listExpired(before: number): Promise<string[]> {
    const prefix = `${this.host}/`;
    const out: string[] = [];
    for (const info of await (await this.store()).list()) {
      if (info.deleted || !info.name.startsWith(prefix)) continue;
      const id = info.name.slice(prefix.length);
      if (ID.test(id) && Date.parse(info.mtime) < before) out.push(id);
    }
    return out;
  }
}

/** Bytes `start` to `end` (inclusive) of a stream. */
function slice(start: number, end: number): Transform {
  let pos = 0;
  let ended = false;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      const from = Math.max(0, start - pos);
      const to = Math.min(chunk.length, end + 1 - pos);
      pos += chunk.length;
      if (to > from) this.push(chunk.subarray(from, to));
      if (pos > end && !ended) {
        ended = true;
        this.push(null);
      }
      cb();
    },
  });
}
