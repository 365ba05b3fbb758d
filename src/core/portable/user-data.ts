// One account's data in both directions: the XEP-0227 <user> element built from the stores (export) and
// a <user> element written into them (import). Credentials per §4 (hashed: <scram-credentials>); roster
// items per RFC 6121 §2.1.2 (approved, ask); inbound requests still pending as <presence type='subscribe'/>
// children of <user>, as Prosody writes them.
import xml from '@xmpp/xml';
import type { Element } from '@xmpp/xml';
import type { Core } from '../core.js';
import { Jid } from '../jid.js';
import { elementFromJson, elementToJson } from '../element-json.js';
import type { ScramCredential, ScramHash, StoredCredentials } from '../sasl/scram-credentials.js';
import { AccountRows } from './account-rows.js';
import { NS_CLIENT, NS_PIE, NS_PIE_SCRAM, NS_PRIVATE, NS_ROSTER, NS_VCARD, parseScram, scramElement, standalone } from './pie-format.js';
import { RosterRows, type RosterItem } from './roster-rows.js';
import { OfflineRows, PrivateRows, VcardRows } from './user-rows.js';
import type { DataLimits } from './module-limits.js';

export interface ImportCounts {
  users: number;
  created: number;
  updated: number;
  plainPasswords: number;
  scramCredentials: number;
  /** Accounts the file gave no usable credential for: created with an unusable random password. */
  noCredentials: string[];
  /** Accounts with SCRAM-SHA-1 keys only: SCRAM-SHA-256 logins fail until the password is set again. */
  sha1Only: number;
  rosterItems: number;
  vcards: number;
  privateNamespaces: number;
  offlineMessages: number;
  offlineDuplicates: number;
  skipped: Array<{ jid: string; reason: string }>;
  /** Data left out because it is over the limits of the module that serves it (vcard.max_size, ...). */
  overLimit: { vcards: number; privateNamespaces: number; rosterItems: number; offlineMessages: number };
  /** Kinds of user data xmppd does not import ({namespace}name -> users that had it): privacy lists, PEP, MAM... */
  ignored: Record<string, number>;
  warnings: string[];
}

export const emptyCounts = (): ImportCounts => ({
  users: 0, created: 0, updated: 0, plainPasswords: 0, scramCredentials: 0, noCredentials: [], sha1Only: 0,
  rosterItems: 0, vcards: 0, privateNamespaces: 0, offlineMessages: 0, offlineDuplicates: 0, skipped: [],
  overLimit: { vcards: 0, privateNamespaces: 0, rosterItems: 0, offlineMessages: 0 }, ignored: {}, warnings: [],
});

const MAX_WARNINGS = 200;
const kindOf = (el: Element) => `{${el.getNS() ?? ''}}${el.getName()}`;
/** The <user> children import understands (the pie namespace is inherited from <server-data>, so '' too). */
const IMPORTED = new Set([
  `{${NS_PIE_SCRAM}}scram-credentials`, `{${NS_ROSTER}}query`, `{${NS_PRIVATE}}query`, `{${NS_VCARD}}vCard`,
  `{${NS_CLIENT}}presence`, '{}presence', '{}offline-messages', `{${NS_PIE}}offline-messages`,
]);
const SUBSCRIPTIONS = new Set(['none', 'to', 'from', 'both']);

export class UserData {
  readonly accounts: AccountRows;
  readonly roster: RosterRows;
  readonly vcards: VcardRows;
  readonly privates: PrivateRows;
  readonly offline: OfflineRows;

  constructor(readonly core: Core, readonly limits: DataLimits = {}) {
    this.accounts = new AccountRows(core);
    this.roster = new RosterRows(core);
    this.vcards = new VcardRows(core);
    this.privates = new PrivateRows(core);
    this.offline = new OfflineRows(core);
  }

  // ---- export ---------------------------------------------------------------------------------------

  /** The <user> element of an account; `creds` null when another auth provider holds them. */
  async toElement(bare: Jid, creds: StoredCredentials | null): Promise<{ el: Element; counts: Record<string, number> }> {
    const user = xml('user', { name: bare.local });
    for (const hash of ['SHA-256', 'SHA-1'] as ScramHash[]) {
      const c = creds?.scram?.[hash];
      if (c) user.cnode(scramElement(hash, c));
    }
    const items = await this.roster.list(bare);
    const visible = items.filter((i) => !i.hidden);
    if (visible.length) {
      const q = xml('query', { xmlns: NS_ROSTER });
      for (const i of visible) {
        const attrs: Record<string, string> = { jid: i.jid, subscription: i.subscription };
        if (i.name) attrs.name = i.name;
        if (i.ask) attrs.ask = 'subscribe';
        if (i.approved) attrs.approved = 'true';
        q.cnode(xml('item', attrs, ...i.groups.map((g) => xml('group', {}, g))));
      }
      user.cnode(q);
    }
    for (const i of items.filter((x) => x.pendingIn)) {
      const p = i.pendingStanza ? elementFromJson(i.pendingStanza) : xml('presence', { type: 'subscribe' });
      p.attrs.xmlns = NS_CLIENT;
      p.attrs.from ??= i.jid;
      p.attrs.to ??= bare.bareString();
      p.attrs.type = 'subscribe';
      user.cnode(p);
    }
    const vcard = await this.vcards.get(bare);
    if (vcard) user.cnode(vcard);
    const privs = await this.privates.list(bare);
    if (privs.length) user.cnode(xml('query', { xmlns: NS_PRIVATE }, ...privs));
    const msgs = await this.offline.list(bare);
    if (msgs.length) {
      for (const m of msgs) m.attrs.xmlns = NS_CLIENT;
      user.cnode(xml('offline-messages', {}, ...msgs));
    }
    return { el: user, counts: { rosterItems: visible.length, vcards: vcard ? 1 : 0, privateElements: privs.length, offlineMessages: msgs.length } };
  }

  // ---- import ---------------------------------------------------------------------------------------

  /** Write one <user> of <host jid=host> into the stores; `internalAuth` false: credentials live elsewhere. */
  async importUser(host: string, user: Element, internalAuth: boolean, c: ImportCounts): Promise<void> {
    const warn = (m: string) => void (c.warnings.length < MAX_WARNINGS && c.warnings.push(m));
    let bare: Jid;
    try {
      bare = Jid.of(String(user.attrs.name ?? ''), host);
      if (!bare.local) throw new Error('the name attribute is missing');
    } catch (err) {
      c.skipped.push({ jid: `${user.attrs.name ?? '(no name)'}@${host}`, reason: `not a valid account name: ${(err as Error).message}` });
      return;
    }
    const jid = bare.bareString();
    c.users++;
    for (const kind of new Set(user.getChildElements().map(kindOf).filter((k) => !IMPORTED.has(k)))) c.ignored[kind] = (c.ignored[kind] ?? 0) + 1;

    if (internalAuth) {
      const scram: StoredCredentials['scram'] = {};
      for (const el of user.getChildren('scram-credentials', NS_PIE_SCRAM)) {
        const r = parseScram(el);
        if ('error' in r) warn(`${jid}: ${r.error}; ignored`);
        else scram[r.hash] = r.cred as ScramCredential;
      }
      let creds: StoredCredentials | null = null;
      if (Object.keys(scram).length) {
        creds = { scram };
        c.scramCredentials++;
        if (!scram['SHA-256']) c.sha1Only++;
      } else if (typeof user.attrs.password === 'string' && user.attrs.password !== '') {
        try {
          creds = await this.accounts.password(user.attrs.password);
        } catch (err) {
          c.skipped.push({ jid, reason: `the password is not usable: ${(err as Error).message}` });
          c.users--;
          return;
        }
        c.plainPasswords++;
      } else if (!(await this.accounts.exists(bare))) {
        creds = await this.accounts.unusable();
        c.noCredentials.push(jid);
      }
      // No credential in the file for an existing account: it keeps the one it has.
      if (!creds || (await this.accounts.put(bare, creds)) === 'updated') c.updated++;
      else c.created++;
    }

    await this.importRoster(bare, user, c, warn);

    const vcard = user.getChild('vCard', NS_VCARD);
    if (vcard) {
      const card = standalone(vcard);
      const size = Buffer.byteLength(card.toString(), 'utf8');
      const max = this.limits.vcardMaxSize;
      if (max !== undefined && size > max) {
        warn(`${jid}: the vCard is ${size} bytes, over vcard.max_size (${max}); not imported`);
        c.overLimit.vcards++;
      } else {
        await this.vcards.set(bare, card);
        c.vcards++;
      }
    }

    const byNs = new Map<string, Element[]>();
    for (const q of user.getChildren('query', NS_PRIVATE)) {
      for (const el of q.getChildElements()) {
        const ns = el.getNS();
        if (!ns || ns === NS_PRIVATE) {
          warn(`${jid}: private data <${el.name}> has no namespace of its own; ignored`);
          continue;
        }
        byNs.set(ns, [...(byNs.get(ns) ?? []), standalone(el)]);
      }
    }
    const maxPrivate = this.limits.privateMaxSize;
    for (const [ns, els] of byNs) {
      const size = els.reduce((n, el) => n + Buffer.byteLength(el.toString(), 'utf8'), 0);
      if (maxPrivate !== undefined && size > maxPrivate) {
        warn(`${jid}: private data for "${ns}" is ${size} bytes, over private.max_size (${maxPrivate}); not imported`);
        c.overLimit.privateNamespaces++;
        byNs.delete(ns);
      }
    }
    await this.privates.set(bare, byNs);
    c.privateNamespaces += byNs.size;

    const msgs = user.getChildren('offline-messages').flatMap((o) => o.getChildElements().filter((m) => m.getName() === 'message'));
    if (msgs.length) {
      const [stored, dupes, over] = await this.offline.append(bare, host, msgs, this.limits.offlineMaxMessages);
      c.offlineMessages += stored;
      c.offlineDuplicates += dupes;
      if (over) {
        warn(`${jid}: ${over} offline messages over offline.max_messages (${this.limits.offlineMaxMessages}); not imported`);
        c.overLimit.offlineMessages += over;
      }
    }
  }

  /** Items from the file replace ours for the same contact; contacts the file does not name stay. */
  private async importRoster(owner: Jid, user: Element, c: ImportCounts, warn: (m: string) => void): Promise<void> {
    const want = new Map<string, RosterItem>();
    for (const q of user.getChildren('query', NS_ROSTER)) {
      for (const it of q.getChildren('item')) {
        const contact = Jid.tryParse(it.attrs.jid)?.bare();
        if (!contact || contact.equals(owner)) {
          warn(`${owner.bareString()}: roster item ${it.attrs.jid ?? '(no jid)'} ${contact ? 'is the account itself' : 'is not a valid JID'}; ignored`);
          continue;
        }
        const sub = String(it.attrs.subscription ?? 'none');
        if (sub === 'remove') continue;
        const item: RosterItem = {
          jid: contact.bareString(),
          subscription: (SUBSCRIPTIONS.has(sub) ? sub : 'none') as RosterItem['subscription'],
          ask: it.attrs.ask === 'subscribe',
          approved: it.attrs.approved === 'true' || it.attrs.approved === '1',
          pendingIn: false,
          groups: [...new Set(it.getChildren('group').map((g) => g.getText().trim()).filter(Boolean))],
        };
        if (it.attrs.name) item.name = String(it.attrs.name);
        want.set(item.jid, item);
      }
    }
    // Pending inbound requests (Prosody's convention): kept on the item, or as the hidden record of a
    // stranger's request (RFC 6121 Appendix A.1 "None + Pending In").
    const pending = new Map<string, RosterItem['pendingStanza']>();
    for (const p of user.getChildren('presence')) {
      if (p.attrs.type !== 'subscribe') continue;
      const from = Jid.tryParse(p.attrs.from)?.bare();
      if (!from || from.equals(owner)) continue;
      const stanza = standalone(p);
      if (stanza.attrs.xmlns === NS_CLIENT) delete stanza.attrs.xmlns;
      stanza.attrs.to ??= owner.bareString();
      pending.set(from.bareString(), elementToJson(stanza));
    }
    // roster.max_items bounds the items the user sees, and (separately) the hidden records of strangers'
    // requests, as the roster module does: contacts already there are updated, new ones only up to the limit.
    const max = this.limits.rosterMaxItems;
    const current = max === undefined ? [] : await this.roster.list(owner);
    const have = new Set(current.map((i) => i.jid));
    let visible = current.filter((i) => !i.hidden).length;
    let hidden = current.length - visible;
    let over = 0;
    for (const contact of new Set([...want.keys(), ...pending.keys()])) {
      const fromFile = want.get(contact);
      const stanza = pending.get(contact);
      if (max !== undefined && !have.has(contact)) {
        if ((fromFile ? visible : hidden) >= max) {
          over++;
          continue;
        }
        if (fromFile) visible++;
        else hidden++;
      }
      const mutate = (cur: RosterItem | undefined): RosterItem => {
        const base: RosterItem = fromFile ? { ...fromFile } : cur ?? { jid: contact, subscription: 'none', ask: false, approved: false, pendingIn: false, groups: [], hidden: true };
        // A request the file does not mention is left as it is here.
        if (stanza) return { ...base, pendingIn: true, pendingStanza: stanza };
        if (cur?.pendingIn) return { ...base, pendingIn: true, ...(cur.pendingStanza && { pendingStanza: cur.pendingStanza }) };
        return base;
      };
      try {
        await this.roster.update(owner, Jid.parse(contact), mutate);
        if (fromFile) c.rosterItems++;
      } catch (err) {
        warn(`${owner.bareString()}: roster item ${contact} not imported: ${(err as Error).message}`);
      }
    }
    if (over) {
      warn(`${owner.bareString()}: ${over} roster items over roster.max_items (${max}); not imported`);
      c.overLimit.rosterItems += over;
    }
  }
}
