// The offline store's share of XEP-0227: <offline-messages/> holding the stored messages (with their
// XEP-0203 delay). Import appends after the newest stored message, skips messages already stored (a file
// imported twice stores each once) and keeps the queue within the host's offline.max_messages.
import { parseXml, xml, type DataContext, type Element, type Jid, type PortableSection } from '../../src/sdk.js';
import { parseStanza, userPrefix, type StoredMessage } from './queue.js';

const TABLE = 'offline_messages'; // as index.ts
const NS_DELAY = 'urn:xmpp:delay';
const NS_CLIENT = 'jabber:client';
const SEQ_DIGITS = 12; // as queue.ts

/** A message as the module stores it: no jabber:client/jabber:server xmlns, addressed to the account. */
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

/** Returns [stored, duplicates, over the limit]. */
async function append(data: DataContext<{ max_messages: number }>, bare: Jid, messages: Element[], attempt = 0): Promise<[number, number, number]> {
  const table = data.table<StoredMessage>(TABLE);
  const prefix = userPrefix(bare);
  const existing = new Map<string, Set<string>>();
  const rows = await table.range({ prefix });
  for (const r of rows) {
    try {
      const k = identity(parseStanza(r.value.xml));
      existing.set(k, (existing.get(k) ?? new Set()).add(r.value.stamp));
    } catch {
      // unreadable rows cannot match
    }
  }
  const max = data.options.max_messages;
  let stored = 0;
  let dupes = 0;
  let over = 0;
  const ops = [];
  const [last] = await table.range({ prefix, reverse: true, limit: 1 });
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
    if (!delay) el.cnode(xml('delay', { xmlns: NS_DELAY, from: data.host, stamp }, 'Offline Storage'));
    existing.set(k, (stamps ?? new Set()).add(stamp));
    seq++;
    const value: StoredMessage = { xml: el.toString(), stamp, from: String(el.attrs.from ?? data.host) };
    ops.push({ type: 'put' as const, table: TABLE, key: prefix + String(seq).padStart(SEQ_DIGITS, '0'), value: value as never });
    stored++;
  }
  if (!ops.length) return [0, dupes, over];
  // The new keys must still be free: the module may have stored a message meanwhile (then: re-read, retry).
  const r = await data.store.transact(ops, ops.map((o) => ({ type: 'absent' as const, table: TABLE, key: o.key })));
  if (!r.ok) {
    if (attempt >= 8) throw new Error(`the offline queue of ${bare.bareString()} kept changing; try again`);
    return append(data, bare, messages, attempt + 1);
  }
  return [stored, dupes, over];
}

export const offlinePortable: PortableSection<{ max_messages: number }> = {
  elements: ['{}offline-messages'],

  async export(data, user) {
    const msgs: Element[] = [];
    for (const r of await data.table<StoredMessage>(TABLE).range({ prefix: userPrefix(user) })) {
      try {
        const m = parseStanza(r.value.xml);
        m.attrs.xmlns = NS_CLIENT;
        msgs.push(m);
      } catch {
        // an unreadable row is skipped here as the module skips it on delivery
      }
    }
    return { elements: msgs.length ? [xml('offline-messages', {}, ...msgs)] : [], counts: { offlineMessages: msgs.length } };
  },

  async import(data, user, elements) {
    const msgs = elements.flatMap((o) => o.getChildElements().filter((m) => m.getName() === 'message'));
    if (!msgs.length) return { counts: { offlineMessages: 0, offlineDuplicates: 0 } };
    const [stored, dupes, over] = await append(data, user, msgs);
    const warnings = over ? [`${user.bareString()}: ${over} offline messages over offline.max_messages (${data.options.max_messages}); not imported`] : [];
    return { counts: { offlineMessages: stored, offlineDuplicates: dupes }, overLimit: { offlineMessages: over }, warnings };
  },
};
