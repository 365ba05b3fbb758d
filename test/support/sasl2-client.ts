// SASL2 (XEP-0388) logins by hand on a RawClient, for protocol tests: SCRAM, PLAIN and FAST's
// HT-SHA-256-NONE (draft-schmaus-kitten-sasl-ht), with whatever inline elements the test adds.
import { createHmac } from 'node:crypto';
import { ScramClient } from '../../src/core/sasl/scram-client.js';
import type { RawClient } from './raw-client.js';

const NS = 'urn:xmpp:sasl:2';
const OUTCOME = /<(success|failure) xmlns=["']urn:xmpp:sasl:2["'][\s\S]*?<\/\1>/;
const userAgent = (id: string) => `<user-agent id='${id}'><software>xmppd tests</software><device>loopback</device></user-agent>`;

export interface Sasl2Options { agentId?: string; inline?: string }

function authenticate(c: RawClient, mechanism: string, initial: Buffer, o: Sasl2Options): void {
  c.send(`<authenticate xmlns='${NS}' mechanism='${mechanism}'><initial-response>${initial.length ? initial.toString('base64') : '='}</initial-response>`
    + `${userAgent(o.agentId ?? 'd4565fa7-4d72-4749-b3d3-740edbf87770')}${o.inline ?? ''}</authenticate>`);
}

/** SASL2 PLAIN; resolves to the <success/> or <failure/> element text. */
export async function sasl2Plain(c: RawClient, user: string, password: string, o: Sasl2Options = {}): Promise<string> {
  authenticate(c, 'PLAIN', Buffer.from(`\0${user}\0${password}`), o);
  return (await c.expect(OUTCOME))[0];
}

/** SASL2 SCRAM; the server signature in <additional-data/> is verified. */
export async function sasl2Scram(c: RawClient, mechanism: string, user: string, password: string, o: Sasl2Options = {}): Promise<string> {
  const client = new ScramClient({ mechanism, username: user, password });
  authenticate(c, mechanism, client.clientFirst(), o);
  const m = await c.expect(/<challenge xmlns=["']urn:xmpp:sasl:2["']>([^<]*)<\/challenge>|<failure[\s\S]*?<\/failure>/);
  if (!m[0].startsWith('<challenge')) return m[0];
  const final = await client.clientFinal(Buffer.from(m[1]!, 'base64'));
  c.send(`<response xmlns='${NS}'>${final.toString('base64')}</response>`);
  const r = (await c.expect(OUTCOME))[0];
  const data = /<additional-data>([^<]*)<\/additional-data>/.exec(r);
  if (r.startsWith('<success')) client.verifyServerFinal(Buffer.from(data![1]!, 'base64'));
  return r;
}

/** FAST login with a token (HT-SHA-256-NONE); checks the server's responder proof on success. */
export async function sasl2Token(c: RawClient, user: string, token: string, o: Sasl2Options = {}): Promise<string> {
  const mac = (label: string) => createHmac('sha256', Buffer.from(token, 'utf8')).update(label).digest();
  authenticate(c, 'HT-SHA-256-NONE', Buffer.concat([Buffer.from(`${user}\0`), mac('Initiator')]), o);
  const r = (await c.expect(OUTCOME))[0];
  if (r.startsWith('<success')) {
    const data = /<additional-data>([^<]*)<\/additional-data>/.exec(r);
    if (!data || !Buffer.from(data[1]!, 'base64').equals(mac('Responder'))) throw new Error(`wrong responder proof in ${r}`);
  }
  return r;
}
