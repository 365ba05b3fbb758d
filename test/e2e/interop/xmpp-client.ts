// Client logins for interop tests on any domain (xmppd or a peer server such as Prosody), built on the
// project's RawClient: STARTTLS, SASL (SCRAM or PLAIN), bind, initial presence.
import { RawClient } from '../../support/raw-client.js';

export interface LoginOptions {
  resource?: string;
  /** SASL mechanism: SCRAM-SHA-1 and PLAIN work everywhere; SCRAM-SHA-256 on xmppd. */
  mechanism?: 'SCRAM-SHA-1' | 'SCRAM-SHA-256' | 'PLAIN';
  presence?: boolean;
}

export async function login(port: number, domain: string, user: string, password: string, opts: LoginOptions = {}): Promise<{ c: RawClient; jid: string }> {
  const c = await RawClient.connect(port);
  c.openStream(domain);
  await c.features();
  await c.starttls(domain);
  c.openStream(domain);
  await c.features();
  const mech = opts.mechanism ?? 'SCRAM-SHA-1';
  const r = mech === 'PLAIN' ? await c.authPlain(user, password) : await c.authScram(mech, user, password);
  if (!r.startsWith('<success')) throw new Error(`login of ${user}@${domain} failed: ${r}`);
  c.openStream(domain);
  await c.features();
  const jid = await c.bind(opts.resource);
  if (opts.presence !== false) c.send('<presence/>');
  return { c, jid };
}

/** The next <message/> (optionally one whose text matches `re`). */
export async function nextMessage(c: RawClient, re: RegExp = /[\s\S]/, timeoutMs = 8000): Promise<string> {
  const m = await c.expect(new RegExp(`<message[^>]*(?:/>|>(?:(?!</message>)[\\s\\S])*?</message>)`), timeoutMs);
  if (!re.test(m[0])) return nextMessage(c, re, timeoutMs);
  return m[0];
}

/** Wait for the stanza (message/presence/iq) carrying id='id'. */
export async function stanzaWithId(c: RawClient, id: string, timeoutMs = 8000): Promise<string> {
  const m = await c.expect(new RegExp(`<(message|presence|iq)\\b[^>]*\\bid=["']${id}["'][^>]*(?:/>|>[\\s\\S]*?</\\1>)`), timeoutMs);
  return m[0];
}

/**
 * Wait for a stanza matching `re` and remove just that one from the client's buffer (RawClient.expect
 * drops everything before its match; here unrelated stanzas stay for later waits).
 */
export async function take(c: RawClient, re: RegExp, timeoutMs = 8000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = re.exec(c.buffer);
    if (m) {
      c.buffer = c.buffer.slice(0, m.index) + c.buffer.slice(m.index + m[0].length);
      return m[0];
    }
    if (c.closed) throw new Error(`connection closed while waiting for ${re}; got: ${c.buffer.slice(0, 800)}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}; got: ${c.buffer.slice(0, 800)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A regex for one <presence/> from `from` (bare or full prefix) of `type` ('' = available). */
export function presenceRe(from: string, type: string): RegExp {
  const esc = from.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const typeRe = type ? `(?=[^>]*\\btype=["']${type}["'])` : `(?![^>]*\\btype=)`;
  return new RegExp(`<presence\\b${typeRe}(?=[^>]*\\bfrom=["']${esc}(?:/[^"']*)?["'])[^>]*?(?:/>|>[\\s\\S]*?</presence>)`);
}
