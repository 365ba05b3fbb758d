// FAST tokens (XEP-0484) per account and client (the SASL2 user-agent id). The raw token is handed to the
// client once and never stored: a row keeps SHA-256 of the HT-SHA-256-NONE initiator proof (what the client
// sends, draft-schmaus-kitten-sasl-ht §3) and the responder proof the server answers with.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Op, Store, Table } from '../../data/index.js';
import type { Jid } from '../jid.js';

export const FAST_MECHANISMS = ['HT-SHA-256-NONE'] as const;
const TABLE = 'fast_tokens';
/** Clients (user-agent ids) holding tokens per account; past it, the token expiring first goes. */
export const MAX_FAST_CLIENTS = 32;

interface StoredToken { mech: string; ini: string; resp: string; expires: number }
interface TokenRow { tokens: StoredToken[] }

/** The proofs a token yields for the NONE variant (no channel-binding data). */
export function htProofs(token: string): { initiator: Buffer; responder: Buffer } {
  const key = Buffer.from(token, 'utf8');
  return {
    initiator: createHmac('sha256', key).update('Initiator').digest(),
    responder: createHmac('sha256', key).update('Responder').digest(),
  };
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
/** Rows are keyed host/localpart/hash(user-agent id): the id is client-chosen text of any shape. */
const keyOf = (bare: Jid, agentId: string) => `${bare.domain}/${bare.local}/${sha256(Buffer.from(agentId, 'utf8')).slice(0, 32)}`;

/** The ops that delete every token of an account (with the account, in its removal transaction). */
export function fastTokenRemovalOps(bare: Jid): Op[] {
  return [{ type: 'delRange', table: TABLE, prefix: `${bare.domain}/${bare.local}/` }];
}

export type FastVerdict =
  | { ok: true; responder: Buffer; expires: number }
  | { ok: false; reason: 'no token' | 'wrong token' | 'expired' };

export class FastTokens {
  private readonly table: Table<TokenRow>;

  constructor(private readonly store: Store) {
    this.table = store.table<TokenRow>(TABLE);
  }

  /**
   * Issue a new token for this client. XEP-0484 §3.4: the token just used stays valid next to the new one
   * until the client proves it has the new one (a lost <success/> must not lock it out); at most two.
   */
  async issue(bare: Jid, agentId: string, mech: string, lifetimeS: number, keep?: Buffer, now = Date.now()): Promise<{ token: string; expiry: string }> {
    const token = randomBytes(32).toString('base64url');
    const { initiator, responder } = htProofs(token);
    const expires = now + lifetimeS * 1000;
    const key = keyOf(bare, agentId);
    const row = await this.table.get(key);
    const kept = keep ? (row?.value.tokens ?? []).filter((t) => t.ini === sha256(keep) && t.expires > now) : [];
    const tokens: StoredToken[] = [{ mech, ini: sha256(initiator), resp: responder.toString('base64'), expires }, ...kept];
    const ops: Op[] = [{ type: 'put', table: TABLE, key, value: { tokens } as never }];
    if (!row) {
      // Each id costs a password login, but ids are free: bound the rows one account can pile up.
      const others = await this.table.range({ prefix: `${bare.domain}/${bare.local}/` });
      const byExpiry = others.sort((a, b) => Math.max(...a.value.tokens.map((t) => t.expires)) - Math.max(...b.value.tokens.map((t) => t.expires)));
      for (const r of byExpiry.slice(0, Math.max(0, others.length + 1 - MAX_FAST_CLIENTS))) ops.push({ type: 'del', table: TABLE, key: r.key });
    }
    await this.store.transact(ops);
    return { token, expiry: new Date(expires).toISOString() };
  }

  /**
   * Check the initiator proof of a login. Using the newest token retires the older one; `invalidate`
   * (the client's <fast invalidate='true'/>) retires the one used.
   */
  async verify(bare: Jid, agentId: string, mech: string, initiator: Buffer, opts: { invalidate?: boolean; now?: number } = {}): Promise<FastVerdict> {
    const now = opts.now ?? Date.now();
    const key = keyOf(bare, agentId);
    const row = await this.table.get(key);
    if (!row || row.value.tokens.length === 0) return { ok: false, reason: 'no token' };
    const want = Buffer.from(sha256(initiator), 'hex');
    const i = row.value.tokens.findIndex((t) => t.mech === mech && timingSafeEqual(Buffer.from(t.ini, 'hex'), want));
    if (i < 0) return { ok: false, reason: 'wrong token' };
    const used = row.value.tokens[i]!;
    if (used.expires <= now) {
      await this.write(key, row.value.tokens.filter((t) => t.expires > now));
      return { ok: false, reason: 'expired' };
    }
    let rest = row.value.tokens.filter((t) => t.expires > now);
    if (opts.invalidate) rest = rest.filter((t) => t !== used);
    else if (i === 0) rest = [used];
    if (rest.length !== row.value.tokens.length) await this.write(key, rest);
    return { ok: true, responder: Buffer.from(used.resp, 'base64'), expires: used.expires };
  }

  private async write(key: string, tokens: StoredToken[]): Promise<void> {
    await this.store.transact([tokens.length ? { type: 'put', table: TABLE, key, value: { tokens } as never } : { type: 'del', table: TABLE, key }]);
  }
}
