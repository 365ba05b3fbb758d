// Helpers for the XEP-0280 tests: round trips that work on any virtual host, enabling carbons, logins
// with a presence priority, and the stanzas a client received split into elements.
import type { Element } from '../../src/sdk.js';
import { RawClient } from '../../test/support/raw-client.js';
import { parseStanza } from '../../test/support/stanza-match.js';

let seq = 0;

/** Round-trip a ping to the account (no 'to', so any host); returns everything received before its answer. */
export async function roundTrip(c: RawClient): Promise<string> {
  const id = `rt${++seq}`;
  c.send(`<iq type='get' id='${id}'><ping xmlns='urn:xmpp:ping'/></iq>`);
  return (await c.expect(new RegExp(`^([\\s\\S]*?)<iq[^>]*id=["']${id}["'][^>]*>`)))[1]!;
}

/** The top-level elements of a received transcript (complete stanzas only, as roundTrip returns). */
export function stanzas(text: string): Element[] {
  return parseStanza(`<r>${text}</r>`).children.filter((c): c is Element => typeof c !== 'string');
}

/** The <message/> stanzas among what arrived before a round trip. */
export async function messagesBefore(c: RawClient): Promise<Element[]> {
  return stanzas(await roundTrip(c)).filter((e) => e.name === 'message');
}

/** Enable (or disable) carbons; resolves with the IQ answer. */
export function setCarbons(c: RawClient, on: boolean): Promise<string> {
  const id = `cb${++seq}`;
  return c.iq(id, `<iq type='set' id='${id}'><${on ? 'enable' : 'disable'} xmlns='urn:xmpp:carbons:2'/></iq>`);
}

/** Log in, send available presence with `priority` (or none), optionally enable carbons. */
export async function session(port: number, user: string, resource: string, opts: { priority?: number | null; carbons?: boolean; host?: string } = {}): Promise<RawClient> {
  const { c } = await RawClient.login(port, user, `pw-${user}`, resource, { presence: false, host: opts.host });
  if (opts.priority !== null) c.send(`<presence><priority>${opts.priority ?? 0}</priority></presence>`);
  if (opts.carbons) {
    const r = await setCarbons(c, true);
    if (!/type=["']result["']/.test(r)) throw new Error(`enabling carbons failed: ${r}`);
  }
  await roundTrip(c); // presence processed, and its echoes consumed
  return c;
}
