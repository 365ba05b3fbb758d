// Who uploaded what, and each user's usage against the quota (XEP-0363 §5 "quota reached"), in the data
// layer: upload_files (<host>/<id> -> owner, size), upload_owned (<host>/<bare jid>/<id>: a user's files, for
// the account's removal) and upload_usage (<host>/<bare jid> -> bytes, files). A file is served only while
// its upload_files row exists.
import type { DataContext, Jid, ModuleContext, Op } from '../../src/sdk.js';

export const FILES_TABLE = 'upload_files';
export const OWNED_TABLE = 'upload_owned';
export const USAGE_TABLE = 'upload_usage';

/** The rows of `user`'s uploads and usage: deleted with the account (the bytes go at the next expiry sweep). */
export async function removeUserOps(data: DataContext<unknown>, user: Jid): Promise<Op[]> {
  const bare = user.bare().toString();
  const owned = await data.table<number>(OWNED_TABLE).range({ prefix: `${user.domain}/${bare}/` });
  return [
    ...owned.map((r): Op => ({ type: 'del', table: FILES_TABLE, key: `${user.domain}/${r.key.slice(r.key.lastIndexOf('/') + 1)}` })),
    { type: 'delRange', table: OWNED_TABLE, prefix: `${user.domain}/${bare}/` },
    { type: 'del', table: USAGE_TABLE, key: `${user.domain}/${bare}` },
  ];
}

export interface FileRow { owner: string; size: number }
export interface Usage { bytes: number; files: number }

export class Ledger {
  private readonly files;
  private readonly usage;

  constructor(private readonly ctx: ModuleContext<any>) {
    this.files = ctx.table<FileRow>(FILES_TABLE);
    this.usage = ctx.table<Usage>(USAGE_TABLE);
  }

  private fileKey(id: string): string {
    return `${this.ctx.host}/${id}`;
  }

  private usageKey(owner: string): string {
    return `${this.ctx.host}/${owner}`;
  }

  /** Whether the file is recorded (uploaded, not expired, its owner not removed). */
  async has(id: string): Promise<boolean> {
    return (await this.files.get(this.fileKey(id))) !== undefined;
  }

  async usageOf(owner: string): Promise<Usage> {
    return (await this.usage.get(this.usageKey(owner)))?.value ?? { bytes: 0, files: 0 };
  }

  /**
   * Record a stored file against its owner's usage, unless that would pass `quota` bytes (0: no quota);
   * false when it would. Written before the upload is acknowledged.
   */
  add(id: string, owner: string, size: number, quota: number): Promise<boolean> {
    return this.ctx.lock(owner, async () => {
      for (;;) {
        const row = await this.usage.get(this.usageKey(owner));
        const u = row?.value ?? { bytes: 0, files: 0 };
        if (quota > 0 && u.bytes + size > quota) return false;
        const r = await this.ctx.store.transact([
          { type: 'put', table: FILES_TABLE, key: this.fileKey(id), value: { owner, size } },
          { type: 'put', table: OWNED_TABLE, key: `${this.ctx.host}/${owner}/${id}`, value: size },
          { type: 'put', table: USAGE_TABLE, key: this.usageKey(owner), value: { bytes: u.bytes + size, files: u.files + 1 } },
        ], [{ type: 'rev', table: USAGE_TABLE, key: this.usageKey(owner), rev: row?.rev ?? 0 }, { type: 'absent', table: FILES_TABLE, key: this.fileKey(id) }]);
        if (r.ok) return true;
        if (r.failed.table === FILES_TABLE) return true; // recorded already
        // another node changed the usage meanwhile: read it again
      }
    });
  }

  /** Forget a file and give its bytes back to its owner's quota (nothing when it was never recorded). */
  async remove(id: string): Promise<void> {
    const file = await this.files.get(this.fileKey(id));
    if (!file) return;
    const { owner, size } = file.value;
    await this.ctx.lock(owner, async () => {
      for (;;) {
        const row = await this.usage.get(this.usageKey(owner));
        const u = row?.value ?? { bytes: 0, files: 0 };
        const left = { bytes: Math.max(0, u.bytes - size), files: Math.max(0, u.files - 1) };
        const r = await this.ctx.store.transact([
          { type: 'del', table: FILES_TABLE, key: this.fileKey(id) },
          { type: 'del', table: OWNED_TABLE, key: `${this.ctx.host}/${owner}/${id}` },
          left.files === 0 ? { type: 'del', table: USAGE_TABLE, key: this.usageKey(owner) } : { type: 'put', table: USAGE_TABLE, key: this.usageKey(owner), value: left },
        ], [{ type: 'rev', table: USAGE_TABLE, key: this.usageKey(owner), rev: row?.rev ?? 0 }, { type: 'rev', table: FILES_TABLE, key: this.fileKey(id), rev: file.rev }]);
        if (r.ok || r.failed.table === FILES_TABLE) return;
      }
    });
  }
}
