// vCards, private XML storage and offline messages of one account, read and written in the tables their
// modules own (layouts mirror modules/vcard, modules/private and modules/offline; those modules follow
// writes through the store's change feed, so a table write needs no module call).
import { createHash } from 'node:crypto';
import xml from '@xmpp/xml';
import type { Element } from '@xmpp/xml';
import type { Table } from '../../data/index.js';
import type { Core } from '../core.js';
import type { Jid } from '../jid.js';
import { elementFromJson, elementToJson, type ElementJson } from '../element-json.js';
import { parseXml } from '../stanza.js';

const VCARDS = 'vcard_cards';
const PRIVATE = 'private_storage';
const OFFLINE = 'offline_messages';
const NS_DELAY = 'urn:xmpp:delay';
const SEQ_DIGITS = 12; // offline row keys: prefix + zero-padded seq (modules/offline/queue.ts)

interface VcardRow { card: ElementJson; photo: string | null }
interface PrivateRow { els: ElementJson[] }
interface OfflineRow { xml: string; stamp: string; from: string }

const userKey = (bare: Jid) => `${bare.domain}/${bare.local}`;
const userPrefix = (bare: Jid) => `${userKey(bare)}\u0000`;

/** XEP-0153 §3.1: SHA-1 (hex) of the decoded PHOTO/BINVAL, as modules/vcard/avatar.ts computes it. */
function photoHash(vcard: Element): string | null {
  const binval = vcard.getChild('PHOTO')?.getChildText('BINVAL');
  if (!binval) return null;
  const data = Buffer.from(binval.replace(/\s+/g, ''), 'base64');
  return data.length ? createHash('sha1').update(data).digest('hex') : null;
}

export class VcardRows {
  private readonly table: Table<VcardRow>;
  constructor(private readonly core: Core) {
    this.table = core.store.table<VcardRow>(VCARDS);
  }

  async get(bare: Jid): Promise<Element | null> {
    const row = await this.table.get(userKey(bare));
    return row ? elementFromJson(row.value.card) : null;
  }

  /** Replace the vCard (XEP-0054 §3.2: no partial updates); an empty one clears it, as the module does. */
  async set(bare: Jid, vcard: Element): Promise<void> {
    const key = userKey(bare);
    const empty = vcard.getChildElements().length === 0 && vcard.getText().trim() === '';
    const value: VcardRow = { card: elementToJson(vcard), photo: photoHash(vcard) };
    await this.core.store.transact([empty ? { type: 'del', table: VCARDS, key } : { type: 'put', table: VCARDS, key, value: value as never }]);
  }
}

export class PrivateRows {
  private readonly table: Table<PrivateRow>;
  constructor(private readonly core: Core) {
    this.table = core.store.table<PrivateRow>(PRIVATE);
  }

  /** Every stored element, each with its namespace declared on itself. */
  async list(bare: Jid): Promise<Element[]> {
    const rows = await this.table.range({ prefix: userPrefix(bare) });
    return rows.flatMap((r) => r.value.els.map((j) => elementFromJson(j)));
  }

  /** Replace the namespaces present in `els` (XEP-0049: one slot per namespace), in one transaction. */
  async set(bare: Jid, byNs: Map<string, Element[]>): Promise<void> {
    if (!byNs.size) return;
    await this.core.store.transact([...byNs].map(([ns, els]) => ({
      type: 'put' as const, table: PRIVATE, key: userPrefix(bare) + ns, value: { els: els.map(elementToJson) } as never,
    })));
  }
}

export class OfflineRows {
  private readonly table: Table<OfflineRow>;
  constructor(private readonly core: Core) {
    this.table = core.store.table<OfflineRow>(OFFLINE);
  }

  async count(bare: Jid): Promise<number> {
    return this.table.count({ prefix: userPrefix(bare) });
  }

  /** The stored messages, oldest first, as elements (with their XEP-0203 delay). */
  async list(bare: Jid): Promise<Element[]> {
    const out: Element[] = [];
    for (const r of await this.table.range({ prefix: userPrefix(bare) })) {
      try {
        out.push(parseXml(r.value.xml));
      } catch {
        // an unreadable row is skipped here as the module skips it on delivery
      }
    }
    return out;
  }

  /**
   * Append messages after the newest stored one, skipping any already stored (same stanza apart from its
   * delay stamps, and the same stamp when the file gives one): importing a file twice stores each once.
   * At most `max` messages in the queue (offline.max_messages); the rest are counted, not stored.
   * Returns [stored, duplicates, over the limit].
   */
  async append(bare: Jid, host: string, messages: Element[], max = Infinity, attempt = 0): Promise<[number, number, number]> {
    const prefix = userPrefix(bare);
    const existing = new Map<string, Set<string>>();
    const rows = await this.table.range({ prefix });
    for (const r of rows) {
      try {
        const k = identity(parseXml(r.value.xml));
        existing.set(k, (existing.get(k) ?? new Set()).add(r.value.stamp));
      } catch {
        // unreadable rows cannot match
      }
    }
    let stored = 0;
    let dupes = 0;
    let over = 0;
    const ops = [];
    const [last] = await this.table.range({ prefix, reverse: true, limit: 1 });
    let seq = last ? Number.parseInt(last.key.slice(prefix.length), 10) : 0;
    for (const m of messages) {
      const el = normalizeMessage(m, bare);
      const delay = el.getChild('delay', NS_DELAY);
      const given = delay?.attrs.stamp as string | undefined;
      const k = identity(el);
      const stamps = existing.get(k);
      if (stamps && (given === undefined || stamps.has(given))) {
        dupes++;
        continue;
      }
      if (rows.length + stored >= max) {
        over++;
        continue;
      }
      // XEP-0160 §2 / XEP-0203: stored messages carry when they were stored; keep the file's stamp.
      const stamp = given ?? new Date().toISOString();
      if (!delay) el.cnode(xml('delay', { xmlns: NS_DELAY, from: host, stamp }, 'Offline Storage'));
      existing.set(k, (stamps ?? new Set()).add(stamp));
      seq++;
      ops.push({ type: 'put' as const, table: OFFLINE, key: prefix + String(seq).padStart(SEQ_DIGITS, '0'), value: { xml: el.toString(), stamp, from: String(el.attrs.from ?? host) } as never });
      stored++;
    }
    if (!ops.length) return [0, dupes, over];
    // The new keys must still be free: the module may have stored a message meanwhile (then: re-read, retry).
    const r = await this.core.store.transact(ops, ops.map((o) => ({ type: 'absent' as const, table: OFFLINE, key: o.key })));
    if (!r.ok) {
      if (attempt >= 8) throw new Error(`the offline queue of ${bare.bareString()} kept changing; try again`);
      return this.append(bare, host, messages, max, attempt + 1);
    }
    return [stored, dupes, over];
  }
}

/** A message as the offline module stores it: no jabber:client/jabber:server xmlns, addressed to the account. */
function normalizeMessage(m: Element, bare: Jid): Element {
  const el = parseXml(m.toString());
  if (el.attrs.xmlns === 'jabber:client' || el.attrs.xmlns === 'jabber:server') delete el.attrs.xmlns;
  el.attrs.to ??= bare.bareString();
  return el;
}

/** What makes two stored messages the same: the stanza without its delay elements. */
function identity(el: Element): string {
  const copy = parseXml(el.toString());
  delete copy.attrs.xmlns;
  for (const d of copy.getChildren('delay', NS_DELAY)) copy.remove(d);
  return copy.toString();
}
