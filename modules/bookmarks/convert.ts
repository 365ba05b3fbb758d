// Bookmarks in both shapes: XEP-0402 items (<conference xmlns='urn:xmpp:bookmarks:1'/>, id = room JID) and
// the XEP-0048 <storage xmlns='storage:bookmarks'/> list, through one model so a round trip is a fixed point.
import { Jid, standalone, xml, type Element } from '../../src/sdk.js';

export const NS_NATIVE = 'urn:xmpp:bookmarks:1';
export const NS_LEGACY = 'storage:bookmarks';

/** One room bookmark; `extensions` are standalone copies (their namespace declared on themselves). */
export interface Bookmark {
  jid: string;
  name?: string;
  autojoin: boolean;
  nick?: string;
  password?: string;
  extensions: Element[];
}

/** A legacy list: its conferences and everything else it holds (XEP-0048 <url/> bookmarks), kept as is. */
export interface LegacyList { conferences: Bookmark[]; others: Element[] }

/** xs:boolean (XEP-0048, XEP-0402): "true" or "1". */
const isTrue = (v: string | undefined) => v === 'true' || v === '1';

/** The room JID normalized (PRECIS), or null when it is no bare JID. */
function roomJid(raw: string | undefined): string | null {
  if (!raw) return null;
  try {
    const j = Jid.parse(raw);
    return j.resource ? null : j.toString();
  } catch {
    return null;
  }
}

/** The bookmark's fields other than its JID, from a conference element of either namespace. */
function fieldsOf(conf: Element, extensionsOf: (c: Element) => Element[]): Omit<Bookmark, 'jid'> {
  const b: Omit<Bookmark, 'jid'> = { autojoin: isTrue(conf.attrs.autojoin), extensions: extensionsOf(conf).map((e) => standalone(e)) };
  if (conf.attrs.name !== undefined) b.name = String(conf.attrs.name);
  const nick = conf.getChild('nick');
  if (nick) b.nick = nick.getText();
  const password = conf.getChild('password');
  if (password) b.password = password.getText();
  return b;
}

/** A legacy list from <storage xmlns='storage:bookmarks'/> elements; a room listed twice keeps its first entry. */
export function fromLegacy(storages: Element[]): LegacyList {
  const conferences: Bookmark[] = [];
  const others: Element[] = [];
  const seen = new Set<string>();
  for (const storage of storages) {
    for (const child of storage.getChildElements()) {
      if (child.name !== 'conference' || child.getNS() !== NS_LEGACY) {
        others.push(standalone(child));
        continue;
      }
      const jid = roomJid(child.attrs.jid);
      if (!jid || seen.has(jid)) continue;
      seen.add(jid);
      // Children other than nick and password are extensions (XEP-0402's <extensions/> carries them).
      conferences.push({ jid, ...fieldsOf(child, (c) => c.getChildElements().filter((e) => !((e.name === 'nick' || e.name === 'password') && e.getNS() === NS_LEGACY))) });
    }
  }
  return { conferences, others };
}

/** A bookmark from an XEP-0402 item, or null when the item is not a conference of that namespace. */
export function fromNative(id: string, payload: Element): Bookmark | null {
  if (payload.name !== 'conference' || payload.getNS() !== NS_NATIVE) return null;
  const jid = roomJid(id);
  if (!jid) return null;
  return { jid, ...fieldsOf(payload, (c) => c.getChild('extensions')?.getChildElements() ?? []) };
}

function withDetails(conf: Element, b: Bookmark): Element {
  if (b.nick !== undefined) conf.cnode(xml('nick', {}, b.nick));
  if (b.password !== undefined) conf.cnode(xml('password', {}, b.password));
  return conf;
}

/** The XEP-0402 item payload. */
export function toNative(b: Bookmark): Element {
  const conf = withDetails(xml('conference', { xmlns: NS_NATIVE, ...(b.name !== undefined && { name: b.name }), ...(b.autojoin && { autojoin: 'true' }) }), b);
  if (b.extensions.length) conf.cnode(xml('extensions', {}, ...b.extensions.map((e) => standalone(e))));
  return conf;
}

/** The XEP-0048 conference element (the item id becomes its jid: XEP-0402, Compatibility). */
export function toLegacyConference(b: Bookmark): Element {
  const conf = withDetails(xml('conference', { jid: b.jid, ...(b.name !== undefined && { name: b.name }), autojoin: b.autojoin ? 'true' : 'false' }), b);
  for (const e of b.extensions) conf.cnode(standalone(e));
  return conf;
}

export function toStorage(list: LegacyList): Element {
  return xml('storage', { xmlns: NS_LEGACY }, ...list.conferences.map(toLegacyConference), ...list.others.map((e) => standalone(e)));
}

/** A comparable form of a bookmark (every field, extensions as XML). */
export function bookmarkKey(b: Bookmark): string {
  return JSON.stringify([b.jid, b.name ?? null, b.autojoin, b.nick ?? null, b.password ?? null, b.extensions.map(String)]);
}

/** A comparable form of a list: the set of conferences (their order carries no meaning) and the other entries. */
export function listKey(list: LegacyList): string {
  return JSON.stringify([list.conferences.map(bookmarkKey).sort(), list.others.map(String)]);
}
