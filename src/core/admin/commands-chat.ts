// Admin commands an application backend drives the server with: send a message or any stanza as a local
// address, read and change rosters (through the roster service, so clients get RFC 6121 §2.1.6 pushes),
// vCards (XEP-0054), offline message counts (XEP-0160), and server statistics.
import { randomBytes } from 'node:crypto';
import type { Element } from '@xmpp/xml';
import { Jid, JidError } from '../jid.js';
import { parseXml } from '../stanza.js';
import { CommandError, bareJid, type AdminTarget, type CommandDef } from './command-def.js';
import { AccountRows } from '../portable/account-rows.js';
import { RosterRows, type RosterItem } from '../portable/roster-rows.js';
import { OfflineRows, VcardRows } from '../portable/user-rows.js';
import type { OfflineApi } from '../services/offline-service.js';

const MESSAGE_TYPES = new Set(['chat', 'normal', 'headline', 'groupchat']);
const SUBSCRIPTIONS = new Set(['none', 'to', 'from', 'both']);
const IQ_TYPES = new Set(['get', 'set', 'result', 'error']);

function running(t: AdminTarget): void {
  if (!t.modules) throw new CommandError('the server is not running', 'unavailable');
}

function anyJid(s: unknown, what: string): Jid {
  try {
    return Jid.parse(String(s ?? ''));
  } catch (err) {
    throw new CommandError(`${what} "${s ?? ''}" is not a valid JID${err instanceof JidError ? `: ${err.message}` : ''}`);
  }
}

/** A sender on this server: an address of one of its hosts (an account's, a bare host, a full JID). */
function localSender(t: AdminTarget, s: unknown): Jid {
  const j = anyJid(s, 'from');
  if (!t.core.config.hosts.includes(j.domain)) throw new CommandError(`from must be an address of this server (${t.core.config.hosts.join(', ')}), not ${j.domain}`);
  return j;
}

async function account(t: AdminTarget, s: unknown): Promise<Jid> {
  const j = bareJid(t, s);
  if (!(await t.core.accounts.exists(j))) throw new CommandError(`${j.toString()} does not exist`, 'not-found');
  return j;
}

async function route(t: AdminTarget, el: Element, from: Jid, to: Jid): Promise<void> {
  el.attrs.from = from.toString();
  el.attrs.to = to.toString();
  await t.core.router.route(el, from, to);
}

/** Groups as a list: an array, or a comma-separated string (CLI, ad-hoc forms). */
function groupsOf(v: unknown): string[] | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const list = Array.isArray(v) ? v.map(String) : String(v).split(',');
  return [...new Set(list.map((g) => g.trim()).filter(Boolean))];
}

const shown = (i: RosterItem) => ({
  jid: i.jid, ...(i.name && { name: i.name }), groups: i.groups, subscription: i.subscription,
  ...(i.ask && { ask: 'subscribe' }), ...(i.approved && { approved: true }), ...(i.pendingIn && { pending_in: true }),
});

async function counter(m: { get(): Promise<{ values: Array<{ value: number; labels: Record<string, unknown> }> }> }, label?: string): Promise<number | Record<string, number>> {
  const { values } = await m.get();
  if (!label) return values.reduce((n, v) => n + v.value, 0);
  const out: Record<string, number> = {};
  for (const v of values) out[String(v.labels[label])] = (out[String(v.labels[label])] ?? 0) + v.value;
  return out;
}

export const CHAT_COMMANDS: CommandDef[] = [
  {
    name: 'send.message', description: 'Send a message from a local address', args: ['from', 'to', 'body', 'type?'],
    run: async (t, a) => {
      running(t);
      const from = localSender(t, a.from);
      const to = anyJid(a.to, 'to');
      const type = a.type ? String(a.type) : 'chat';
      if (!MESSAGE_TYPES.has(type)) throw new CommandError(`type must be one of ${[...MESSAGE_TYPES].join(', ')}`);
      if (typeof a.body !== 'string' || a.body === '') throw new CommandError('a non-empty body is required');
      const id = randomBytes(8).toString('hex');
      const el = parseXml('<message/>');
      el.attrs.type = type;
      el.attrs.id = id;
      el.c('body').t(a.body);
      await route(t, el, from, to);
      return { sent: true, id, from: from.toString(), to: to.toString() };
    },
  },
  {
    name: 'send.stanza', description: 'Send a message, presence or iq (XML) from a local address', args: ['from', 'to', 'stanza'],
    run: async (t, a) => {
      running(t);
      const from = localSender(t, a.from);
      const to = anyJid(a.to, 'to');
      let el: Element;
      try {
        el = parseXml(String(a.stanza ?? ''));
      } catch (err) {
        throw new CommandError(`the stanza is not well-formed XML: ${(err as Error).message}`);
      }
      if (!['message', 'presence', 'iq'].includes(el.name)) throw new CommandError(`the stanza must be a <message/>, <presence/> or <iq/>, not <${el.name}/>`);
      const ns = el.attrs.xmlns;
      if (ns !== undefined && ns !== 'jabber:client') throw new CommandError(`the stanza must be in jabber:client, not ${ns}`);
      delete el.attrs.xmlns;
      if (el.name === 'iq') {
        // RFC 6120 §8.2.3: an IQ needs a type and an id.
        if (!IQ_TYPES.has(el.attrs.type)) throw new CommandError('an <iq/> needs type get, set, result or error');
        el.attrs.id ??= randomBytes(8).toString('hex');
      }
      await route(t, el, from, to);
      return { sent: true, name: el.name, ...(el.attrs.id && { id: el.attrs.id }), from: from.toString(), to: to.toString() };
    },
  },
  {
    name: 'roster.get', description: "List an account's roster", args: ['jid'],
    run: async (t, a) => {
      running(t);
      const owner = await account(t, a.jid);
      const items = await new RosterRows(t.core).list(owner);
      return { jid: owner.toString(), items: items.filter((i) => !i.hidden).map(shown), pending: items.filter((i) => i.hidden && i.pendingIn).map((i) => i.jid) };
    },
  },
  {
    name: 'roster.add', description: 'Add or change a roster item (pushed to the owner\'s clients)', args: ['jid', 'contact', 'name?', 'groups?', 'subscription?'],
    run: async (t, a) => {
      running(t);
      const owner = await account(t, a.jid);
      const contact = anyJid(a.contact, 'contact').bare();
      if (contact.equals(owner)) throw new CommandError('a roster cannot hold its own account');
      const sub = a.subscription === undefined || a.subscription === '' ? undefined : String(a.subscription);
      if (sub !== undefined && !SUBSCRIPTIONS.has(sub)) throw new CommandError(`subscription must be one of ${[...SUBSCRIPTIONS].join(', ')}`);
      const groups = groupsOf(a.groups);
      const name = a.name === undefined || a.name === '' ? undefined : String(a.name);
      let after: RosterItem | undefined;
      let existed = false;
      await new RosterRows(t.core).update(owner, contact, (cur) => {
        existed = !!cur && !cur.hidden;
        const base: RosterItem = cur ?? { jid: contact.bareString(), groups: [], subscription: 'none', ask: false, approved: false, pendingIn: false };
        after = { ...base, hidden: false, ...(name !== undefined && { name }), ...(groups && { groups }), ...(sub && { subscription: sub as RosterItem['subscription'] }) };
        if (!after.hidden) delete after.hidden;
        return after;
      }).catch((err) => {
        throw new CommandError(`cannot add ${contact.toString()}: ${(err as Error).message}`, 'conflict');
      });
      return { [existed ? 'updated' : 'added']: contact.toString(), jid: owner.toString(), item: after ? shown(after) : undefined };
    },
  },
  {
    name: 'roster.remove', description: 'Remove a roster item (pushed to the owner\'s clients)', args: ['jid', 'contact'],
    run: async (t, a) => {
      running(t);
      const owner = await account(t, a.jid);
      const contact = anyJid(a.contact, 'contact').bare();
      const changed = await new RosterRows(t.core).update(owner, contact, (cur) => (cur && !cur.hidden ? null : undefined));
      if (!changed) throw new CommandError(`${contact.toString()} is not in the roster of ${owner.toString()}`, 'not-found');
      return { removed: contact.toString(), jid: owner.toString() };
    },
  },
  {
    name: 'vcard.get', description: "Show an account's vCard (XML)", args: ['jid'],
    run: async (t, a) => {
      running(t);
      const owner = await account(t, a.jid);
      const card = await new VcardRows(t.core).get(owner);
      if (!card) throw new CommandError(`${owner.toString()} has no vCard`, 'not-found');
      return { jid: owner.toString(), vcard: card.toString() };
    },
  },
  {
    name: 'vcard.set', description: "Replace an account's vCard (XML <vCard xmlns='vcard-temp'/>)", args: ['jid', 'vcard'],
    run: async (t, a) => {
      running(t);
      const owner = await account(t, a.jid);
      let card: Element;
      try {
        card = parseXml(String(a.vcard ?? ''));
      } catch (err) {
        throw new CommandError(`the vCard is not well-formed XML: ${(err as Error).message}`);
      }
      if (card.name !== 'vCard' || card.attrs.xmlns !== 'vcard-temp') throw new CommandError(`the vCard must be <vCard xmlns='vcard-temp'>…</vCard>`);
      await new VcardRows(t.core).set(owner, card);
      return { set: owner.toString() };
    },
  },
  {
    name: 'offline.count', description: 'Count the offline messages stored for an account', args: ['jid'],
    run: async (t, a) => {
      running(t);
      const owner = await account(t, a.jid);
      const api = t.core.services.get<OfflineApi>(owner.domain, 'offline');
      return { jid: owner.toString(), count: api ? await api.count(owner) : await new OfflineRows(t.core).count(owner) };
    },
  },
  {
    name: 'stats', description: 'Accounts per host, sessions, s2s streams, uptime and stanza counters', args: [],
    run: async (t) => {
      running(t);
      const rows = new AccountRows(t.core);
      const accounts: Record<string, number | null> = {};
      for (const h of t.core.config.hosts) {
        if (!t.core.auth?.routed(h)) accounts[h] = await rows.count(h);
        else accounts[h] = await t.core.accounts.list(h).then((l) => l.length, () => null); // a provider that cannot list
      }
      const sessions: Record<string, number> = Object.fromEntries(t.core.config.hosts.map((h) => [h, 0]));
      for (const s of t.core.sessions.all()) sessions[s.host] = (sessions[s.host] ?? 0) + 1;
      const m = t.core.metrics;
      return {
        accounts,
        sessions: { total: t.core.sessions.count(), by_host: sessions },
        s2s_streams: t.s2s ? t.s2s.list().length : 0,
        uptime_s: Math.round((Date.now() - t.core.startedAt) / 1000),
        stanzas: {
          in: await counter(m.stanzasIn, 'kind'),
          out: await counter(m.stanzasOut),
          routed: await counter(m.stanzasRouted),
          dropped: await counter(m.stanzasDropped, 'hook'),
        },
        auth: { success: await counter(m.authSuccess), failure: await counter(m.authFailure) },
        connections: await counter(m.connections, 'type'),
      };
    },
  },
  {
    name: 'archive.query', description: "List an account's archived messages (XEP-0313), oldest first", args: ['jid', 'with?', 'start?', 'end?', 'max?'],
    run: async (t, a) => {
      running(t);
      const owner = await account(t, a.jid);
      const ms = (v: unknown, what: string): number | undefined => {
        if (v === undefined || v === null || v === '') return undefined;
        const n = Date.parse(String(v));
        if (Number.isNaN(n)) throw new CommandError(`${what} must be a date and time (e.g. 2024-01-31T12:00:00Z)`);
        return n;
      };
      const start = ms(a.start, 'start');
      const end = ms(a.end, 'end');
      const withJid = a.with === undefined || a.with === '' ? undefined : anyJid(a.with, 'with');
      const max = a.max === undefined || a.max === '' ? undefined : Number(a.max);
      if (max !== undefined && (!Number.isInteger(max) || max < 0)) throw new CommandError('max must be a whole number');
      // Rows as modules/mam/archive.ts writes them: key `${domain}/${local}\u0000${id}`, ids start with the
      // zero-padded ms timestamp (so start/end are key bounds); table name = MAM_TABLE there.
      const pad = (n: number) => String(Math.max(0, n)).padStart(15, '0');
      const prefix = `${owner.domain}/${owner.local}\u0000`;
      const rows = await t.core.store.table<{ id: string; stamp: string; with: string; peer: string; xml: string }>('mam_messages').range({
        gte: prefix + (start !== undefined ? pad(start) : ''),
        lt: prefix + (end !== undefined ? pad(end + 1) : '\uffff'),
      });
      const hits = rows.map((r) => r.value).filter((m) => !withJid || (withJid.resource ? m.peer === withJid.toString() : m.with === withJid.bareString()));
      const shownMsgs = max !== undefined ? hits.slice(Math.max(0, hits.length - max)) : hits;
      return { jid: owner.toString(), count: hits.length, messages: shownMsgs.map((m) => ({ id: m.id, stamp: m.stamp, with: m.with, xml: m.xml })) };
    },
  },
];
