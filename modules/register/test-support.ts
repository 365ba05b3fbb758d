// Helpers for the register module's tests (not loaded by the module): raw XMPP over TLS before
// authentication, seeding per-user data in every module through its protocol, and finding a user's rows
// in every table — live through the store's change feed, and in the raw LevelDB after shutdown.
import { Level } from 'level';
import { join } from 'node:path';
import { RawClient } from '../../test/support/raw-client.js';
import type { TestServer } from '../../test/support/harness.js';

/** The modules with per-user tables (being written alongside this one) plus the basics. */
export const ALL_MODULES = {
  disco: {}, ping: {}, roster: {}, presence: {}, offline: {}, vcard: {}, private: {}, last: {}, blocking: {}, register: {},
};

/** Wait for the IQ answering `id` (self-closing or not). */
export async function expectIq(c: RawClient, id: string, timeoutMs?: number): Promise<string> {
  const re = new RegExp(`<iq\\b[^>]*\\bid=["']${id}["'][^>]*?(?:/>|>[\\s\\S]*?</iq>)`);
  return (await c.expect(re, timeoutMs))[0];
}

/** Connect, negotiate STARTTLS (to `host`), and return the client with the features offered before authentication. */
export async function securedStream(port: number, host = 'localhost'): Promise<{ c: RawClient; features: string }> {
  const c = await RawClient.connect(port);
  c.openStream(host);
  await c.features();
  await c.starttls(host);
  c.openStream(host);
  return { c, features: await c.features() };
}

export const xmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&apos;');

/** Register in-band on a fresh TLS stream to `host`; returns the server's answer to the set. */
export async function registerRaw(port: number, username: string, password: string, host = 'localhost'): Promise<string> {
  const { c } = await securedStream(port, host);
  c.send(`<iq type='set' id='reg'><query xmlns='jabber:iq:register'><username>${xmlEscape(username)}</username><password>${xmlEscape(password)}</password></query></iq>`);
  const r = await expectIq(c, 'reg');
  c.close();
  return r;
}

/** Can this account (on `host`) log in (SCRAM-SHA-256 over STARTTLS)? */
export async function canLogin(port: number, user: string, password: string, host = 'localhost'): Promise<boolean> {
  try {
    const { c } = await RawClient.login(port, user, password, undefined, { presence: false, host });
    c.close();
    return true;
  } catch (err) {
    if (/login failed/.test((err as Error).message)) return false;
    throw err;
  }
}

/**
 * Give `user` data in every module that keeps some, through the standard protocols: roster item and
 * subscription (RFC 6121), vCard (XEP-0054), private XML (XEP-0049), block list (XEP-0191), last
 * logout (XEP-0012) and an offline message (XEP-0160) from `contact`. What a module does not implement
 * yet is answered with an error and simply stores nothing; the callers assert on what was stored.
 */
export async function seedUserData(port: number, user: string, password: string, contact: string, contactPassword: string, host = 'localhost'): Promise<void> {
  const { c } = await RawClient.login(port, user, password, 'seed', { host });
  const set = async (id: string, payload: string) => {
    c.send(`<iq type='set' id='${id}'>${payload}</iq>`);
    await expectIq(c, id);
  };
  await set('s-roster', `<query xmlns='jabber:iq:roster'><item jid='${contact}@${host}' name='Contact'><group>Friends</group></item></query>`);
  await set('s-vcard', `<vCard xmlns='vcard-temp'><FN>${user} the tester</FN><NICKNAME>${user}</NICKNAME></vCard>`);
  await set('s-private', `<query xmlns='jabber:iq:private'><notes xmlns='urn:example:register-test'><note>remember me</note></notes></query>`);
  await set('s-block', `<block xmlns='urn:xmpp:blocking'><item jid='spammer@example.org'/></block>`);
  c.send(`<presence to='${contact}@${host}' type='subscribe'/>`);
  // A round trip after the presence: this session handles its stanzas in order.
  await set('s-ping', `<ping xmlns='urn:xmpp:ping'/>`);
  const b = await RawClient.login(port, contact, contactPassword, 'seed-contact', { host });
  b.c.send(`<presence to='${user}@${host}' type='subscribed'/>`);
  b.c.send(`<presence to='${user}@${host}' type='subscribe'/>`);
  b.c.send(`<iq type='get' id='c-ping'><ping xmlns='urn:xmpp:ping'/></iq>`);
  await expectIq(b.c, 'c-ping');
  // Logging out leaves a last-activity record (XEP-0012 §4); while the user is offline a message waits.
  c.send('<presence type=\'unavailable\'><status>gone seeding</status></presence>');
  c.send(`<iq type='get' id='s-ping2'><ping xmlns='urn:xmpp:ping'/></iq>`);
  await expectIq(c, 's-ping2');
  c.send('</stream:stream>');
  await c.waitClosed();
  b.c.send(`<message to='${user}@${host}' type='chat' id='off1'><body>while you were out</body></message>`);
  b.c.send(`<iq type='get' id='c-ping2'><ping xmlns='urn:xmpp:ping'/></iq>`);
  await expectIq(b.c, 'c-ping2');
  b.c.close();
}

/** Records every table the store writes to while the test runs (the store has no table listing). */
export function watchTables(t: TestServer): { tables: Set<string>; stop(): void } {
  const tables = new Set<string>(['accounts']);
  const stop = t.server.core.store.watch(null, (ev) => tables.add(ev.table));
  return { tables, stop };
}

/** The user's rows (keys `${domain}/${local}...`, the project's per-user layout) in each given table. */
export async function liveRows(t: TestServer, tables: Iterable<string>, local: string, host = t.domain): Promise<Record<string, string[]>> {
  const prefix = `${host}/${local}`;
  const out: Record<string, string[]> = {};
  for (const name of tables) {
    const rows = await t.server.core.store.table(name).range({ prefix });
    if (rows.length) out[name] = rows.map((r) => r.key);
  }
  return out;
}

/**
 * After shutdown: every row of every table in the LevelDB (row keys are `table \0 key`, metadata starts
 * with \0) whose key starts with `${domain}/${local}` for one of the users.
 */
export async function rawRows(dataDir: string, domain: string, locals: string[]): Promise<string[]> {
  const db = new Level<Buffer, string>(join(dataDir, 'db'), { keyEncoding: 'buffer', valueEncoding: 'utf8' });
  await db.open();
  const found: string[] = [];
  try {
    for await (const k of db.keys()) {
      const s = k.toString('utf8');
      const nul = s.indexOf('\u0000');
      if (nul <= 0) continue;
      const key = s.slice(nul + 1);
      if (locals.some((l) => key.startsWith(`${domain}/${l}`))) found.push(`${s.slice(0, nul)}: ${JSON.stringify(key)}`);
    }
  } finally {
    await db.close();
  }
  return found;
}

export { until } from '../../test/support/until.js';
