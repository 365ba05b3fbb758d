// Helpers for the XEP-0227 export/import and backup tests: the admin target of an in-process server,
// IQ round trips over a RawClient, and the data a user sees after an import.
import type { TestServer } from '../support/harness.js';
import type { RawClient } from '../support/raw-client.js';
import { runCommand, type AdminTarget } from '../../src/core/admin/commands.js';

export const target = (t: TestServer): AdminTarget => ({ core: t.server.core, modules: t.server.modules, s2s: t.server.s2s });

/** Run an admin command on an in-process server as the local CLI does (any path), collecting its progress lines. */
export async function admin<T = any>(t: TestServer, cmd: string, args: Record<string, unknown>, lines: string[] = []): Promise<T> {
  return (await runCommand(target(t), cmd, { ...args, progress: (l: string) => lines.push(l) }, { origin: 'cli' })) as T;
}

let seq = 0;

/** Send an IQ (payload inside <iq/>) and return the answer. */
export async function iq(c: RawClient, payload: string, type: 'get' | 'set' = 'get', to?: string): Promise<string> {
  const id = `pq${++seq}`;
  const answer = await c.iq(id, `<iq type='${type}' id='${id}'${to ? ` to='${to}'` : ''}>${payload}</iq>`);
  if (/type=["']error["']/.test(answer)) throw new Error(`IQ failed: ${answer}`);
  return answer;
}

export const rosterOf = (c: RawClient) => iq(c, "<query xmlns='jabber:iq:roster'/>");
export const vcardOf = (c: RawClient, to?: string) => iq(c, "<vCard xmlns='vcard-temp'/>", 'get', to);
export const privateOf = (c: RawClient, el: string) => iq(c, `<query xmlns='jabber:iq:private'>${el}</query>`);

/** Every <message/> that has arrived so far or arrives before a ping round trip completes. */
export async function messagesUntilSync(c: RawClient): Promise<string[]> {
  const id = `sync${++seq}`;
  c.send(`<iq type='get' id='${id}'><ping xmlns='urn:xmpp:ping'/></iq>`);
  const m = await c.expect(new RegExp(`<iq\\b[^>]*\\bid=["']${id}["'][^>]*?(?:/>|>[\\s\\S]*?</iq>)`), 8000);
  const before = m.input.slice(0, m.index);
  return before.match(/<message\b[\s\S]*?<\/message>/g) ?? [];
}
