// Helpers for the XEP-0198 tests: enabling stream management, resuming on a new connection, counting
// the stanzas a client received (its h) and cutting a connection the way a dropped mobile link does.
import { Jid, OFFLINE_SERVICE, type Element, type OfflineApi } from '../../src/sdk.js';
import type { TestServer } from '../../test/support/harness.js';
import { RawClient } from '../../test/support/raw-client.js';
import { parseStanza } from '../../test/support/stanza-match.js';
import { until } from '../../test/support/until.js';

export const SM = 'urn:xmpp:sm:3';
const answerRe = (names: string) => new RegExp(`<(${names})\\b[^>]*?(?:/>|>[\\s\\S]*?</\\1>)`);

/** Counts the stanzas a client received after <enabled/> or <resumed/> (the h it acknowledges). */
export class Tally {
  private text = '';
  private base = 0;
  constructor(c: RawClient, start = 0) {
    this.base = start;
    c.socket.on('data', (d: string | Buffer) => { this.text += d.toString(); });
  }
  get h(): number {
    const i = this.text.search(/<(enabled|resumed)\b/);
    if (i < 0) return this.base;
    return this.base + (this.text.slice(i).match(/<(message|presence|iq)[\s>/]/g)?.length ?? 0);
  }
}

/** Send <enable/>; resolves with the answer (<enabled/> or <failed/>). */
export async function enable(c: RawClient, attrs = " resume='true'"): Promise<Element> {
  c.send(`<enable xmlns='${SM}'${attrs}/>`);
  return parseStanza((await c.expect(answerRe('enabled|failed')))[0]);
}

/** A new connection for `user`: STARTTLS, SASL, stream restart, then <resume/>; resolves with the answer. */
export async function resume(port: number, user: string, previd: string, h: number, host = 'localhost'): Promise<{ c: RawClient; answer: Element; features: string; tally: Tally }> {
  const c = await RawClient.secured(port, { host });
  const r = await c.authScram('SCRAM-SHA-256', user, `pw-${user}`);
  if (!r.startsWith('<success')) throw new Error(`login failed: ${r}`);
  c.openStream(host);
  const features = await c.features();
  const tally = new Tally(c);
  c.send(`<resume xmlns='${SM}' previd='${previd}' h='${h}'/>`);
  return { c, answer: parseStanza((await c.expect(answerRe('resumed|failed')))[0]), features, tally };
}

/** Destroy the client's socket: no closing tag, as when a phone loses its network; waits until the server saw it. */
export async function cut(t: TestServer, c: RawClient, full: string): Promise<void> {
  c.close();
  await until(() => t.server.core.sessions.get(Jid.parse(full))?.detached !== false, `${full} detached or gone`);
}

/** The session bound to a full JID, if any. */
export const sessionOf = (t: TestServer, full: string) => t.server.core.sessions.get(Jid.parse(full));

/** Bodies of the <message/> stanzas in a transcript, in order. */
export function bodies(text: string): string[] {
  return [...text.matchAll(/<message\b[\s\S]*?<body>([^<]*)<\/body>/g)].map((m) => m[1]!);
}

/** Wait until `n` messages are stored offline for an account (a session's hand-back runs after it left). */
export async function storedOffline(t: TestServer, bare: string, n: number): Promise<void> {
  const jid = Jid.parse(bare);
  const api = t.server.core.services.get<OfflineApi>(jid.domain, OFFLINE_SERVICE.name)!;
  await until(async () => (await api.count(jid)) === n, `${n} offline messages for ${bare}`);
}
