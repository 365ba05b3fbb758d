// The URLs of an XEP-0363 slot, signed with an HMAC-SHA256 key kept in the data layer (never in the config):
// GET  <base>/upload/<host>/<id>.<tag>/<name>           tag = MAC(id): a permanent link to share;
// PUT  the same + ?exp&size&type&owner&sig              sig = MAC(everything the upload must match), time-limited.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ModuleContext } from '../../src/sdk.js';

export const SECRET_TABLE = 'upload_secret';

/** What a PUT must match, as signed into its URL. */
export interface SlotClaims { id: string; name: string; size: number; type: string; owner: string; exp: number }

export class Signer {
  private constructor(private readonly key: Buffer) {}

  /** The host's key: created once (insert-if-absent, so every node and restart agrees on it), then read. */
  static async load(ctx: ModuleContext<any>): Promise<Signer> {
    const table = ctx.table<string>(SECRET_TABLE);
    let row = await table.get(ctx.host);
    if (!row) {
      await ctx.store.transact([{ type: 'put', table: SECRET_TABLE, key: ctx.host, value: randomBytes(32).toString('base64') }],
        [{ type: 'absent', table: SECRET_TABLE, key: ctx.host }]);
      row = await table.get(ctx.host);
    }
    return new Signer(Buffer.from(row!.value, 'base64'));
  }

  private mac(parts: string[], bytes = 32): string {
    // NUL-separated: no field can contain it (filenames are sanitised, numbers are digits)
    return createHmac('sha256', this.key).update(parts.join('\u0000')).digest().subarray(0, bytes).toString('base64url');
  }

  /** The path segment naming a file: its id and a tag that proves this server handed it out. */
  token(id: string): string {
    return `${id}.${this.mac(['get', id], 16)}`;
  }

  /** The file id of a token, or null when the tag is not ours. */
  idOf(token: string): string | null {
    const dot = token.indexOf('.');
    if (dot < 0) return null;
    const id = token.slice(0, dot);
    return equal(token, this.token(id)) ? id : null;
  }

  putQuery(c: SlotClaims): string {
    const q = new URLSearchParams({ exp: String(c.exp), size: String(c.size), type: c.type, owner: c.owner });
    q.set('sig', this.mac(['put', c.id, c.name, String(c.size), c.type, c.owner, String(c.exp)]));
    return q.toString();
  }

  /** The claims of a PUT URL's query for file `id` named `name`, or null when its signature is not ours. */
  verifyPut(id: string, name: string, q: URLSearchParams): SlotClaims | null {
    const exp = q.get('exp'), size = q.get('size'), type = q.get('type'), owner = q.get('owner'), sig = q.get('sig');
    if (exp === null || size === null || type === null || owner === null || sig === null) return null;
    if (!/^\d+$/.test(exp) || !/^\d+$/.test(size)) return null;
    if (!equal(sig, this.mac(['put', id, name, size, type, owner, exp]))) return null;
    return { id, name, size: Number(size), type, owner, exp: Number(exp) };
  }
}

function equal(a: string, b: string): boolean {
  const x = Buffer.from(a), y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A new file id: 96 random bits in hex (storage paths are built from ids only). */
export function newFileId(): string {
  return randomBytes(12).toString('hex');
}
