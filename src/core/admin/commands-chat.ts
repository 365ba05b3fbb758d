// Admin commands an application backend drives the server with: send a message or any stanza as a local
// address, and server statistics. Rosters, vCards, offline counts and archives are the modules' own commands
// (modules/roster, vcard, offline, mam: ctx.command).
import { randomBytes } from 'node:crypto';
import type { Element } from '@xmpp/xml';
import { Jid, JidError } from '../jid.js';
import { parseXml } from '../stanza.js';
import { CommandError, type AdminTarget, type CommandDef } from './command-def.js';
import { AccountRows } from '../portable/account-rows.js';

const MESSAGE_TYPES = new Set(['chat', 'normal', 'headline', 'groupchat']);
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

async function route(t: AdminTarget, el: Element, from: Jid, to: Jid): Promise<void> {
  el.attrs.from = from.toString();
  el.attrs.to = to.toString();
  await t.core.router.route(el, from, to);
}

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
];
